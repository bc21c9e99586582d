-- influbot schema 2: the web desk (moderator accounts, sessions, audit log) and per-day counters without text.
CREATE TABLE moderators (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created {ts} NOT NULL,
    updated {ts}
);
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    moderator TEXT NOT NULL REFERENCES moderators (name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created {ts} NOT NULL,
    seen {ts} NOT NULL
);
CREATE INDEX web_sessions_moderator ON web_sessions (moderator);
CREATE TABLE audit_log (
    id {id},
    moderator TEXT NOT NULL,
    action TEXT NOT NULL,
    case_id {ref},
    detail TEXT,
    at {ts} NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE daily_counts (
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, name)
);
