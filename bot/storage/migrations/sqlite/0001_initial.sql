-- influbot schema 1 (SQLite). Times are REAL seconds since the epoch; JSON is TEXT.
CREATE TABLE users (
    "user" TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    updated REAL
);
CREATE TABLE safety_events (
    id INTEGER PRIMARY KEY,
    "user" TEXT NOT NULL,
    topic TEXT NOT NULL,
    severity TEXT,
    channel TEXT,
    at REAL NOT NULL
);
CREATE INDEX safety_events_user ON safety_events ("user");
CREATE TABLE inbound_seen (
    "user" TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY ("user", message_id)
);
CREATE INDEX inbound_seen_at ON inbound_seen (at);
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    "user" TEXT NOT NULL,
    channel TEXT NOT NULL,
    display_name TEXT,
    status TEXT NOT NULL,
    topic TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    claimed REAL,
    closed REAL,
    claimed_by TEXT,
    updated REAL
);
CREATE UNIQUE INDEX cases_one_open_per_user ON cases ("user") WHERE status <> 'closed';
CREATE INDEX cases_queue ON cases (status, priority);
CREATE TABLE case_messages (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    name TEXT,
    text TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX case_messages_case ON case_messages (case_id);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    case_id INTEGER REFERENCES cases (id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    lease_until REAL,
    created REAL NOT NULL,
    sent_at REAL,
    error TEXT
);
CREATE INDEX outbox_due ON outbox (channel, next_at) WHERE status IN ('pending', 'leased');
CREATE INDEX outbox_queue ON outbox (channel, target, id) WHERE status IN ('pending', 'leased');
CREATE INDEX outbox_case ON outbox (case_id);
CREATE INDEX outbox_target ON outbox (target);
CREATE TABLE blocks (
    "user" TEXT PRIMARY KEY,
    until REAL,
    by TEXT,
    notified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE mod_threads (
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    surface TEXT NOT NULL,
    ref TEXT NOT NULL,
    PRIMARY KEY (case_id, surface)
);
CREATE INDEX mod_threads_ref ON mod_threads (surface, ref);
