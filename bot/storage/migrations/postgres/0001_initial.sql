-- influbot schema 1 (PostgreSQL): timestamptz, jsonb, cascading deletes, one open case per user.
CREATE TABLE users (
    "user" TEXT PRIMARY KEY,
    state JSONB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    updated TIMESTAMPTZ
);
CREATE TABLE safety_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "user" TEXT NOT NULL,
    topic TEXT NOT NULL,
    severity TEXT,
    channel TEXT,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX safety_events_user ON safety_events ("user");
CREATE TABLE inbound_seen (
    "user" TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY ("user", message_id)
);
CREATE INDEX inbound_seen_at ON inbound_seen (at);
CREATE TABLE cases (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "user" TEXT NOT NULL,
    channel TEXT NOT NULL,
    display_name TEXT,
    status TEXT NOT NULL,
    topic TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    tags JSONB NOT NULL DEFAULT '[]',
    created TIMESTAMPTZ NOT NULL,
    claimed TIMESTAMPTZ,
    closed TIMESTAMPTZ,
    claimed_by TEXT,
    updated TIMESTAMPTZ
);
CREATE UNIQUE INDEX cases_one_open_per_user ON cases ("user") WHERE status <> 'closed';
CREATE INDEX cases_queue ON cases (status, priority);
CREATE TABLE case_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    name TEXT,
    text TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX case_messages_case ON case_messages (case_id);
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    case_id BIGINT REFERENCES cases (id) ON DELETE CASCADE,
    payload JSONB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ,
    created TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    error TEXT
);
CREATE INDEX outbox_due ON outbox (channel, next_at) WHERE status IN ('pending', 'leased');
CREATE INDEX outbox_queue ON outbox (channel, target, id) WHERE status IN ('pending', 'leased');
CREATE INDEX outbox_case ON outbox (case_id);
CREATE INDEX outbox_target ON outbox (target);
CREATE TABLE blocks (
    "user" TEXT PRIMARY KEY,
    until TIMESTAMPTZ,
    by TEXT,
    notified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE mod_threads (
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    surface TEXT NOT NULL,
    ref TEXT NOT NULL,
    PRIMARY KEY (case_id, surface)
);
CREATE INDEX mod_threads_ref ON mod_threads (surface, ref);
