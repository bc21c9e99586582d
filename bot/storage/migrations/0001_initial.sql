-- influbot schema 1, for both databases: {id} {ref} {ts} {json} are filled in per dialect (sql.py TYPES).
CREATE TABLE users (
    "user" TEXT PRIMARY KEY,
    state {json} NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    updated {ts}
);
CREATE TABLE safety_events (
    id {id},
    "user" TEXT NOT NULL,
    topic TEXT NOT NULL,
    severity TEXT,
    channel TEXT,
    at {ts} NOT NULL
);
CREATE INDEX safety_events_user ON safety_events ("user");
CREATE TABLE inbound_seen (
    "user" TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at {ts} NOT NULL,
    PRIMARY KEY ("user", message_id)
);
CREATE INDEX inbound_seen_at ON inbound_seen (at);
CREATE TABLE cases (
    id {id},
    "user" TEXT NOT NULL,
    channel TEXT NOT NULL,
    display_name TEXT,
    status TEXT NOT NULL,
    topic TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    tags {json} NOT NULL DEFAULT '[]',
    created {ts} NOT NULL,
    claimed {ts},
    closed {ts},
    claimed_by TEXT,
    updated {ts}
);
CREATE UNIQUE INDEX cases_one_open_per_user ON cases ("user") WHERE status <> 'closed';
CREATE INDEX cases_queue ON cases (status, priority);
CREATE TABLE case_messages (
    id {id},
    case_id {ref} NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    name TEXT,
    text TEXT NOT NULL,
    at {ts} NOT NULL
);
CREATE INDEX case_messages_case ON case_messages (case_id);
CREATE TABLE outbox (
    id {id},
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    case_id {ref} REFERENCES cases (id) ON DELETE CASCADE,
    payload {json} NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at {ts} NOT NULL,
    lease_until {ts},
    created {ts} NOT NULL,
    sent_at {ts},
    error TEXT
);
CREATE INDEX outbox_due ON outbox (channel, next_at) WHERE status IN ('pending', 'leased');
CREATE INDEX outbox_queue ON outbox (channel, target, id) WHERE status IN ('pending', 'leased');
CREATE INDEX outbox_case ON outbox (case_id);
CREATE INDEX outbox_target ON outbox (target);
CREATE TABLE blocks (
    "user" TEXT PRIMARY KEY,
    until {ts},
    by TEXT,
    notified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE mod_threads (
    case_id {ref} NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    surface TEXT NOT NULL,
    ref TEXT NOT NULL,
    PRIMARY KEY (case_id, surface)
);
CREATE INDEX mod_threads_ref ON mod_threads (surface, ref);
