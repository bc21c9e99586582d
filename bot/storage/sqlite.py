"""SQLite (sqlite-utils, WAL): the embedded default. One connection per thread, never shared.

Writers take a process-wide lock, then `BEGIN IMMEDIATE` (SQLite's one write lock, which other processes on
the same file respect too), so a per-user lock is simply the write lock: one writer at a time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.storage.base import Row
from bot.storage.sql import SqlDatabase, SqlStorage

BUSY_TIMEOUT = 10.0
LEGACY_TABLES = ("users", "safety_events", "inbound_seen", "cases", "case_messages", "outbox", "blocks", "mod_threads")


class SqliteDatabase(SqlDatabase):
    dialect = "sqlite"

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time):
        super().__init__(clock)
        self.memory = str(path) == ":memory:"
        if self.memory:  # one shared in-memory database for every thread of this process
            self.target, self.uri = f"file:influbot-{uuid.uuid4().hex}?mode=memory&cache=shared", True
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.target, self.uri = str(path), False
        self._write = threading.RLock()
        self._all: list[sqlite3.Connection] = []
        self._keep = self._conn()  # keeps an in-memory database alive; sets WAL once for a file
        if not self.memory:
            sqlite_utils.Database(self._keep).enable_wal()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.target, uri=self.uri, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")  # deleted text is overwritten, not left in free pages
            self._local.conn = conn
            with self._write:
                self._all.append(conn)
        return conn

    @contextmanager
    def atomic(self) -> Iterator[None]:
        local = self._local
        if getattr(local, "depth", 0):
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        with self._write:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            local.depth = 1
            try:
                yield
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                local.depth = 0

    def _execute(self, sql: str, params: Sequence[Any]) -> tuple[int, list[Row]]:
        conn = self._conn()
        reading = sql.lstrip()[:6].upper() == "SELECT" and not self.memory
        if getattr(self._local, "depth", 0) or reading:
            cur = conn.execute(sql, tuple(params))
            return cur.rowcount, [dict(r) for r in cur.fetchall()]
        with self._write:
            cur = conn.execute(sql, tuple(params))
            return cur.rowcount, [dict(r) for r in cur.fetchall()]

    def lock_user(self, user: str) -> None:
        """`BEGIN IMMEDIATE` already holds the database's single write lock."""

    @contextmanager
    def migration_lock(self) -> Iterator[int]:
        with self.atomic():
            conn = self._conn()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self._legacy = version == 0 and "meta" in tables
            if self._legacy:  # a database made by influbot 0.1 (sqlite-utils tables + a meta row)
                for name in LEGACY_TABLES:
                    if name in tables:
                        conn.execute(f"ALTER TABLE {name} RENAME TO legacy_{name}")
            yield version
            if self._legacy:
                self._copy_legacy(conn, tables)

    def _copy_legacy(self, conn: sqlite3.Connection, tables: set[str]) -> None:
        if "cases" in tables:  # 0.1 could leave two open cases for one user: keep the newest open
            conn.execute(
                "UPDATE legacy_cases SET status = 'closed' WHERE status <> 'closed' AND id NOT IN "
                "(SELECT max(id) FROM legacy_cases WHERE status <> 'closed' GROUP BY \"user\")"
            )
        for name in LEGACY_TABLES:
            if name not in tables:
                continue
            old = {r[1] for r in conn.execute(f"PRAGMA table_info(legacy_{name})")}
            new = [r[1] for r in conn.execute(f"PRAGMA table_info({name})") if r[1] in old]
            cols = ", ".join(f'"{c}"' for c in new)
            conn.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM legacy_{name}")
            conn.execute(f"DROP TABLE legacy_{name}")
        conn.execute("DROP TABLE meta")

    def set_version(self, version: int) -> None:
        self._conn().execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        with self._write:
            for conn in self._all:
                with suppress(sqlite3.ProgrammingError):
                    conn.close()
            self._all.clear()


class SqliteStorage(SqlStorage):
    def __init__(self, path: str | Path = ":memory:", clock: Callable[[], float] = time.time, migrate: bool = True):
        super().__init__(SqliteDatabase(path, clock), str(path), migrate=migrate)
