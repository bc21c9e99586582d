"""The stores, written once in portable SQL; `sqlite.py` and `postgres.py` supply the connections and dialect.

SQL here uses `?` placeholders and passes every time as a parameter from the store's clock (never `now()`), so
tests with a fake clock behave the same on both databases.
"""

from __future__ import annotations

import json
import random
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from importlib import resources
from typing import Any

from bot.core.types import State
from bot.storage.base import MAX_ATTEMPTS, Row

JSON_COLUMNS = frozenset({"state", "tags", "payload"})
TYPES = {  # the column types the migrations name as {id} {ref} {ts} {json}
    "sqlite": {"id": "INTEGER PRIMARY KEY", "ref": "INTEGER", "ts": "REAL", "json": "TEXT"},
    "postgres": {"id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "ref": "BIGINT", "ts": "TIMESTAMPTZ", "json": "JSONB"},
}
BACKOFF_CAP = 300.0


class SqlDatabase(ABC):
    """Per-thread transactions over one database, with `?` queries and epoch-float times."""

    dialect = ""
    skip_locked = ""  # appended to the outbox lease's inner SELECT

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._local = threading.local()

    # -- what a dialect implements ----------------------------------------------------------------

    @abstractmethod
    def atomic(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any]) -> tuple[int, list[Row]]: ...

    @abstractmethod
    def lock_user(self, user: str) -> None:
        """Inside a transaction: hold `user`'s lock until it ends."""

    @abstractmethod
    def migration_lock(self) -> AbstractContextManager[int]:
        """A transaction that holds the migration lock; yields the current schema version."""

    @abstractmethod
    def set_version(self, version: int) -> None: ...

    def ts(self, value: float | None) -> Any:
        return value

    def js(self, value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False)

    def close(self) -> None:  # noqa: B027 - optional
        pass

    # -- shared helpers ---------------------------------------------------------------------------

    @contextmanager
    def locked(self, user: str) -> Iterator[None]:
        with self.atomic():
            self.lock_user(user)
            yield

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._execute(sql, params)[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [self._decode(r) for r in self._execute(sql, params)[1]]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    @staticmethod
    def _decode(row: Row) -> Row:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.timestamp()
            elif key in JSON_COLUMNS and isinstance(value, str):
                row[key] = json.loads(value)
        return row

    def migrations(self) -> list[tuple[int, str]]:
        """`migrations/NNNN_*.sql`, one file for both databases, with this dialect's column types filled in."""
        folder = resources.files("bot.storage") / "migrations"
        found = []
        for entry in folder.iterdir():
            match = re.match(r"(\d+)_.*\.sql$", entry.name)
            if match:
                found.append((int(match[1]), entry.read_text(encoding="utf-8").format(**TYPES[self.dialect])))
        return sorted(found)

    def migrate(self) -> list[int]:
        """Apply the migrations this database has not seen, once, under a lock (other processes wait)."""
        applied = []
        with self.migration_lock() as current:
            for version, script in self.migrations():
                if version <= current:
                    continue
                for statement in script.split(";\n"):
                    if statement.strip() and not all(line.lstrip().startswith("--") for line in statement.strip().splitlines()):
                        self.run(statement)
                self.set_version(version)
                applied.append(version)
        return applied


class _Part:
    def __init__(self, db: SqlDatabase):
        self.db = db


class SqlUsers(_Part):
    def get(self, user: str) -> State:
        row = self.db.one('SELECT state FROM users WHERE "user" = ?', (user,))
        return State.from_dict(row["state"]) if row else State()

    def put(self, user: str, state: State) -> None:
        self.db.run(
            'INSERT INTO users ("user", state, version, updated) VALUES (?, ?, 1, ?) '
            'ON CONFLICT ("user") DO UPDATE SET state = excluded.state, version = users.version + 1, updated = excluded.updated',
            (user, self.db.js(state.to_dict()), self.db.ts(self.db.clock())),
        )

    def version(self, user: str) -> int:
        row = self.db.one('SELECT version FROM users WHERE "user" = ?', (user,))
        return int(row["version"]) if row else 0

    def forget(self, user: str) -> None:
        self.db.run('DELETE FROM users WHERE "user" = ?', (user,))


class SqlDedup(_Part):
    def seen(self, user: str, message_id: str) -> bool:
        added = self.db.run(
            'INSERT INTO inbound_seen ("user", message_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
            (user, message_id, self.db.ts(self.db.clock())),
        )
        return added == 0

    def purge(self, before: float) -> int:
        return self.db.run("DELETE FROM inbound_seen WHERE at < ?", (self.db.ts(before),))

    def forget(self, user: str) -> None:
        self.db.run('DELETE FROM inbound_seen WHERE "user" = ?', (user,))


class SqlSafetyLog(_Part):
    def record(self, user: str, topic: str, severity: str, channel: str) -> None:
        self.db.run(
            'INSERT INTO safety_events ("user", topic, severity, channel, at) VALUES (?, ?, ?, ?, ?)',
            (user, topic, severity, channel, self.db.ts(self.db.clock())),
        )

    def events(self, user: str) -> list[Row]:
        return self.db.rows('SELECT * FROM safety_events WHERE "user" = ? ORDER BY id', (user,))

    def forget(self, user: str) -> None:
        self.db.run('DELETE FROM safety_events WHERE "user" = ?', (user,))


CASE_FIELDS = frozenset({"status", "priority", "tags", "claimed", "closed", "claimed_by", "topic", "display_name"})
TIME_FIELDS = frozenset({"claimed", "closed", "created", "updated"})


class SqlCases(_Part):
    def open(self, user: str, channel: str, topic: str, priority: int, tags: list[str], display_name: str) -> tuple[int, bool]:
        now = self.db.ts(self.db.clock())
        with self.db.atomic():
            row = self.db.one(
                'INSERT INTO cases ("user", channel, display_name, status, topic, priority, tags, created, updated) '
                "VALUES (?, ?, ?, 'waiting', ?, ?, ?, ?, ?) "
                "ON CONFLICT (\"user\") WHERE status <> 'closed' DO NOTHING RETURNING id",
                (user, channel, display_name, topic, priority, self.db.js(sorted(tags)), now, now),
            )
            if row is not None:
                return int(row["id"]), True
            existing = self.open_for(user)
            assert existing is not None
            merged = sorted(set(existing["tags"] or []) | set(tags))
            self.update(existing["id"], priority=max(priority, existing["priority"]), tags=merged)
            return int(existing["id"]), False

    def get(self, case_id: int) -> Row | None:
        return self.db.one("SELECT * FROM cases WHERE id = ?", (case_id,))

    def open_for(self, user: str) -> Row | None:
        return self.db.one("SELECT * FROM cases WHERE \"user\" = ? AND status <> 'closed' ORDER BY id DESC", (user,))

    def list(self, include_closed: bool = False) -> list[Row]:
        where = "" if include_closed else "WHERE status <> 'closed' "
        return self.db.rows(
            f"SELECT * FROM cases {where}ORDER BY CASE WHEN status = 'closed' THEN 1 ELSE 0 END, priority DESC, created, id"
        )

    def update(self, case_id: int, **fields: Any) -> None:
        unknown = set(fields) - CASE_FIELDS
        if unknown:
            raise ValueError(f"not a case field: {sorted(unknown)}")
        fields["updated"] = self.db.clock()
        names = sorted(fields)
        values = [
            self.db.ts(fields[n]) if n in TIME_FIELDS else self.db.js(fields[n]) if n == "tags" else fields[n] for n in names
        ]
        self.db.run(f"UPDATE cases SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?", (*values, case_id))

    def claim(self, case_id: int, moderator: str) -> bool:
        now = self.db.ts(self.db.clock())
        return (
            self.db.run(
                "UPDATE cases SET status = 'claimed', claimed_by = ?, claimed = ?, updated = ? WHERE id = ? AND status = 'waiting'",
                (moderator, now, now, case_id),
            )
            == 1
        )

    def release(self, case_id: int, moderator: str) -> bool:
        return (
            self.db.run(
                "UPDATE cases SET status = 'waiting', claimed_by = NULL, claimed = NULL, updated = ? "
                "WHERE id = ? AND status = 'claimed' AND claimed_by = ?",
                (self.db.ts(self.db.clock()), case_id, moderator),
            )
            == 1
        )

    def add_message(self, case_id: int, author: str, name: str, text: str) -> int:
        now = self.db.ts(self.db.clock())
        with self.db.atomic():
            row = self.db.one(
                "INSERT INTO case_messages (case_id, author, name, text, at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (case_id, author, name, text, now),
            )
            self.db.run("UPDATE cases SET updated = ? WHERE id = ?", (now, case_id))
        assert row is not None
        return int(row["id"])

    def messages(self, case_id: int) -> list[Row]:
        return self.db.rows("SELECT * FROM case_messages WHERE case_id = ? ORDER BY id", (case_id,))

    def purge_closed(self, before: float) -> int:
        """Closed cases older than `before`, with (by cascade) transcripts, threads and outbox rows."""
        return self.db.run("DELETE FROM cases WHERE status = 'closed' AND closed < ?", (self.db.ts(before),))

    def forget(self, user: str) -> None:
        self.db.run('DELETE FROM cases WHERE "user" = ?', (user,))


LEASE = (
    "UPDATE outbox SET status = 'leased', lease_until = ? WHERE id IN ("
    "SELECT o.id FROM outbox o WHERE o.channel = ?{target} "
    "AND ((o.status = 'pending' AND o.next_at <= ?) OR (o.status = 'leased' AND o.lease_until <= ?)) "
    "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.channel = o.channel AND p.target = o.target AND p.id < o.id "
    "AND p.status IN ('pending', 'leased')) "
    "ORDER BY o.id LIMIT ?{skip_locked}) RETURNING *"
)


class SqlOutbox(_Part):
    def __init__(self, db: SqlDatabase, rng: random.Random | None = None):
        super().__init__(db)
        self.rng = rng or random.Random()

    def enqueue(self, channel: str, target: str, payload: dict[str, Any], case_id: int | None = None) -> int:
        now = self.db.ts(self.db.clock())
        row = self.db.one(
            "INSERT INTO outbox (channel, target, case_id, payload, status, attempts, next_at, created) "
            "VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) RETURNING id",
            (channel, target, case_id, self.db.js(payload), now, now),
        )
        assert row is not None
        return int(row["id"])

    def enqueue_leased(self, channel: str, target: str, payload: dict[str, Any], seconds: float = 30.0) -> Row | None:
        """Enqueue a row already leased to the caller (who sends it right after the commit) when nothing is
        queued before it for the target; else queue it normally and return None (the relay keeps the order)."""
        now = self.db.clock()
        row = self.db.one(
            "INSERT INTO outbox (channel, target, payload, status, attempts, next_at, lease_until, created) "
            "SELECT ?, ?, ?, CASE WHEN q.busy THEN 'pending' ELSE 'leased' END, 0, ?, CASE WHEN q.busy THEN NULL ELSE ? END, ? "
            "FROM (SELECT EXISTS (SELECT 1 FROM outbox WHERE channel = ? AND target = ? AND status IN ('pending', 'leased')) AS busy) q "
            "RETURNING *",
            (channel, target, self.db.js(payload), self.db.ts(now), self.db.ts(now + seconds), self.db.ts(now), channel, target),
        )
        assert row is not None
        return row if row["status"] == "leased" else None

    def lease(self, channel: str, *, target: str | None = None, limit: int = 50, seconds: float = 30.0) -> list[Row]:
        """The due rows at the head of each target's queue, leased for `seconds` (only one row per target)."""
        now = self.db.clock()
        sql = LEASE.format(target=" AND o.target = ?" if target is not None else "", skip_locked=self.db.skip_locked)
        params: list[Any] = [self.db.ts(now + seconds), channel]
        if target is not None:
            params.append(target)
        params += [self.db.ts(now), self.db.ts(now), limit]
        with self.db.atomic():
            return sorted(self.db.rows(sql, params), key=lambda r: r["id"])

    def sent(self, outbox_id: int) -> None:
        self.db.run(
            "UPDATE outbox SET status = 'sent', sent_at = ?, lease_until = NULL WHERE id = ?",
            (self.db.ts(self.db.clock()), outbox_id),
        )

    def failed(self, outbox_id: int, error: str, *, permanent: bool = False, retry_in: float = 1.0) -> bool:
        """Count a failed attempt: back off with jitter, or (permanent, or too many) move it to the dead letters."""
        with self.db.atomic():
            row = self.db.one("SELECT attempts, case_id FROM outbox WHERE id = ?", (outbox_id,))
            if row is None:
                return False
            attempts = int(row["attempts"]) + 1
            dead = permanent or attempts >= MAX_ATTEMPTS
            delay = min(BACKOFF_CAP, retry_in * 2 ** (attempts - 1)) * self.rng.uniform(0.5, 1.5)
            self.db.run(
                "UPDATE outbox SET attempts = ?, error = ?, status = ?, next_at = ?, lease_until = NULL WHERE id = ?",
                (attempts, error[:300], "dead" if dead else "pending", self.db.ts(self.db.clock() + delay), outbox_id),
            )
            if dead and row["case_id"]:
                SqlCases(self.db).add_message(int(row["case_id"]), "system", "bot", f"could not deliver: {error[:200]}")
        return dead

    def pending(self, channel: str, target: str | None = None) -> list[Row]:
        sql = "SELECT * FROM outbox WHERE channel = ? AND status IN ('pending', 'leased')"
        params: list[Any] = [channel]
        if target is not None:
            sql += " AND target = ?"
            params.append(target)
        return self.db.rows(sql + " ORDER BY id", params)

    def dead(self) -> list[Row]:
        return self.db.rows("SELECT * FROM outbox WHERE status = 'dead' ORDER BY id")

    def get(self, outbox_id: int) -> Row | None:
        return self.db.one("SELECT * FROM outbox WHERE id = ?", (outbox_id,))

    def purge(self, sent_before: float, closed_before: float) -> int:
        """Delivered rows older than `sent_before`; pending and dead rows of cases closed before `closed_before`."""
        with self.db.atomic():
            removed = self.db.run("DELETE FROM outbox WHERE status = 'sent' AND sent_at < ?", (self.db.ts(sent_before),))
            removed += self.db.run(
                "DELETE FROM outbox WHERE status IN ('pending', 'dead') AND case_id IN "
                "(SELECT id FROM cases WHERE status = 'closed' AND closed < ?)",
                (self.db.ts(closed_before),),
            )
        return removed

    def forget(self, user: str) -> None:
        """Rows addressed to the user and every row of their cases (moderator-surface copies included)."""
        self.db.run('DELETE FROM outbox WHERE target = ? OR case_id IN (SELECT id FROM cases WHERE "user" = ?)', (user, user))


class SqlThreads(_Part):
    def ref(self, case_id: int, surface: str) -> str | None:
        row = self.db.one("SELECT ref FROM mod_threads WHERE case_id = ? AND surface = ?", (case_id, surface))
        return str(row["ref"]) if row else None

    def case(self, surface: str, ref: str) -> int | None:
        row = self.db.one("SELECT case_id FROM mod_threads WHERE surface = ? AND ref = ?", (surface, str(ref)))
        return int(row["case_id"]) if row else None

    def save(self, case_id: int, surface: str, ref: str) -> None:
        self.db.run(
            "INSERT INTO mod_threads (case_id, surface, ref) VALUES (?, ?, ?) "
            "ON CONFLICT (case_id, surface) DO UPDATE SET ref = excluded.ref",
            (case_id, surface, str(ref)),
        )


class SqlBlocks(_Part):
    def block(self, user: str, until: float, by: str) -> None:
        self.db.run(
            'INSERT INTO blocks ("user", until, by, notified) VALUES (?, ?, ?, 0) '
            'ON CONFLICT ("user") DO UPDATE SET until = excluded.until, by = excluded.by, notified = 0',
            (user, self.db.ts(until), by),
        )

    def blocked(self, user: str) -> bool:
        return (
            self.db.one('SELECT 1 AS x FROM blocks WHERE "user" = ? AND until > ?', (user, self.db.ts(self.db.clock())))
            is not None
        )

    def notice_due(self, user: str) -> bool:
        return self.db.run('UPDATE blocks SET notified = 1 WHERE "user" = ? AND notified = 0', (user,)) == 1

    def forget(self, user: str) -> None:
        self.db.run('DELETE FROM blocks WHERE "user" = ?', (user,))


class SqlModerators(_Part):
    def add(self, name: str, password_hash: str) -> bool:
        now = self.db.ts(self.db.clock())
        return (
            self.db.run(
                "INSERT INTO moderators (name, password_hash, created, updated) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (name, password_hash, now, now),
            )
            == 1
        )

    def get(self, name: str) -> Row | None:
        return self.db.one("SELECT * FROM moderators WHERE name = ?", (name,))

    def list(self) -> list[Row]:
        return self.db.rows("SELECT name, created, updated FROM moderators ORDER BY name")

    def set_password(self, name: str, password_hash: str) -> bool:
        with self.db.atomic():
            changed = self.db.run(
                "UPDATE moderators SET password_hash = ?, updated = ? WHERE name = ?",
                (password_hash, self.db.ts(self.db.clock()), name),
            )
            self.db.run("DELETE FROM web_sessions WHERE moderator = ?", (name,))  # a new password logs out everywhere
        return changed == 1

    def remove(self, name: str) -> bool:
        with self.db.atomic():
            self.db.run("DELETE FROM web_sessions WHERE moderator = ?", (name,))
            return self.db.run("DELETE FROM moderators WHERE name = ?", (name,)) == 1


class SqlSessions(_Part):
    def create(self, token_hash: str, moderator: str, csrf: str) -> None:
        now = self.db.ts(self.db.clock())
        self.db.run(
            "INSERT INTO web_sessions (token_hash, moderator, csrf, created, seen) VALUES (?, ?, ?, ?, ?)",
            (token_hash, moderator, csrf, now, now),
        )

    def get(self, token_hash: str) -> Row | None:
        return self.db.one("SELECT * FROM web_sessions WHERE token_hash = ?", (token_hash,))

    def touch(self, token_hash: str) -> None:
        self.db.run("UPDATE web_sessions SET seen = ? WHERE token_hash = ?", (self.db.ts(self.db.clock()), token_hash))

    def delete(self, token_hash: str) -> None:
        self.db.run("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash,))

    def purge(self, seen_before: float) -> int:
        return self.db.run("DELETE FROM web_sessions WHERE seen < ?", (self.db.ts(seen_before),))


class SqlAudit(_Part):
    def record(self, moderator: str, action: str, case_id: int | None, detail: str) -> None:
        self.db.run(
            "INSERT INTO audit_log (moderator, action, case_id, detail, at) VALUES (?, ?, ?, ?, ?)",
            (moderator, action, case_id, detail[:300], self.db.ts(self.db.clock())),
        )

    def recent(self, limit: int = 100) -> list[Row]:
        return self.db.rows("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))


class SqlFigures(_Part):
    def bump(self, name: str, day: str, by: int = 1) -> None:
        self.db.run(
            "INSERT INTO daily_counts (day, name, n) VALUES (?, ?, ?) ON CONFLICT (day, name) DO UPDATE SET n = daily_counts.n + ?",
            (day, name, by, by),
        )

    def counts(self, name: str, since_day: str) -> list[Row]:
        return self.db.rows("SELECT day, n FROM daily_counts WHERE name = ? AND day >= ? ORDER BY day", (name, since_day))

    def case_times(self, since: float) -> list[Row]:
        return self.db.rows(
            "SELECT c.id, c.created, c.closed, (SELECT min(m.at) FROM case_messages m WHERE m.case_id = c.id "
            "AND m.author = 'moderator') AS first_reply FROM cases c WHERE c.created >= ? ORDER BY c.id",
            (self.db.ts(since),),
        )

    def safety_times(self, since: float) -> list[Row]:
        return self.db.rows("SELECT topic, at FROM safety_events WHERE at >= ? ORDER BY at", (self.db.ts(since),))


class SqlStorage:
    """Every store on one `SqlDatabase` (see `bot.storage.base.Storage`)."""

    def __init__(self, db: SqlDatabase, url: str, migrate: bool = True):
        self.db = db
        self.url = url
        self.users = SqlUsers(db)
        self.dedup = SqlDedup(db)
        self.safety = SqlSafetyLog(db)
        self.cases = SqlCases(db)
        self.outbox = SqlOutbox(db)
        self.threads = SqlThreads(db)
        self.blocks = SqlBlocks(db)
        self.moderators = SqlModerators(db)
        self.sessions = SqlSessions(db)
        self.audit = SqlAudit(db)
        self.figures = SqlFigures(db)
        if migrate:
            self.migrate()

    def clock(self) -> float:
        return self.db.clock()

    def atomic(self) -> AbstractContextManager[None]:
        return self.db.atomic()

    def locked(self, user: str) -> AbstractContextManager[None]:
        return self.db.locked(user)

    def migrate(self) -> list[int]:
        return self.db.migrate()

    def forget(self, user: str) -> None:
        """Every row that holds the user's data or text, in one transaction (each store says what it holds)."""
        with self.db.locked(user):
            for part in (self.outbox, self.cases, self.users, self.safety, self.dedup, self.blocks):
                part.forget(user)

    def close(self) -> None:
        self.db.close()

    # The original five-method `Store` interface, kept for callers that only need it.
    def get_state(self, user: str) -> State:
        return self.users.get(user)

    def put_state(self, user: str, state: State) -> None:
        self.users.put(user, state)

    def record_safety(self, user: str, topic: str, severity: str, channel: str) -> None:
        self.safety.record(user, topic, severity, channel)

    def seen(self, user: str, message_id: str) -> bool:
        return self.dedup.seen(user, message_id)

    def safety_events(self, user: str) -> list[Row]:
        return self.safety.events(user)
