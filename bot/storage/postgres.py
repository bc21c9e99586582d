"""PostgreSQL (psycopg 3 with a connection pool): the shared state when several processes run the bot.

Per-user serialization is a transaction-scoped advisory lock on the user key; the outbox lease uses
`FOR UPDATE SKIP LOCKED`; one open case per user is a partial unique index; deletes cascade.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from bot.storage.base import Row
from bot.storage.sql import SqlDatabase, SqlStorage

MIGRATION_LOCK = 0x1F1B0  # advisory lock id held while migrating
POOL_SIZE = 10


class PostgresDatabase(SqlDatabase):
    dialect = "postgres"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, clock: Callable[[], float] = time.time, pool_size: int = POOL_SIZE):
        super().__init__(clock)
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=True,
            name="influbot",
        )
        self.pool.wait(timeout=30)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        local = self._local
        if getattr(local, "conn", None) is not None:
            yield
            return
        with self.pool.connection() as conn, conn.transaction():
            local.conn = conn
            try:
                yield
            finally:
                local.conn = None

    def _execute(self, sql: str, params: Sequence[Any]) -> tuple[int, list[Row]]:
        query = sql.replace("?", "%s")
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return self._run(conn, query, params)
        with self.pool.connection() as conn:
            return self._run(conn, query, params)

    @staticmethod
    def _run(conn: psycopg.Connection, query: str, params: Sequence[Any]) -> tuple[int, list[Row]]:
        cur = conn.execute(query, tuple(params))  # type: ignore[arg-type]
        rows = cur.fetchall() if cur.description else []
        return cur.rowcount, rows  # type: ignore[return-value]

    def lock_user(self, user: str) -> None:
        self.run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"user:{user}",))

    @contextmanager
    def migration_lock(self) -> Iterator[int]:
        with self.atomic():
            self.run("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            self.run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL)")
            row = self.one("SELECT coalesce(max(version), 0) AS v FROM schema_migrations")
            yield int(row["v"]) if row else 0

    def set_version(self, version: int) -> None:
        self.run("INSERT INTO schema_migrations (version, applied) VALUES (?, ?)", (version, self.ts(self.clock())))

    def ts(self, value: float | None) -> Any:
        return None if value is None else datetime.fromtimestamp(value, UTC)

    def js(self, value: Any) -> Any:
        return Jsonb(value)

    def close(self) -> None:
        self.pool.close()


class PostgresStorage(SqlStorage):
    def __init__(self, url: str, clock: Callable[[], float] = time.time, migrate: bool = True, pool_size: int = POOL_SIZE):
        super().__init__(PostgresDatabase(url, clock, pool_size), url, migrate=migrate)
