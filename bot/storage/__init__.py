"""Storage behind small protocols (`base.py`): SQLite by default, PostgreSQL for many processes.

`INFLUBOT_DB` (or `--db`) is a file path, `:memory:`, or a `postgresql://` URL.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.storage.base import Storage

__all__ = ["Storage", "default_db", "is_postgres", "open_storage", "unavailable"]


def default_db() -> str:
    if os.environ.get("INFLUBOT_DB"):
        return os.environ["INFLUBOT_DB"]
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "influbot" / "influbot.db")


def is_postgres(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def open_storage(target: str | Path | None = None, clock: Callable[[], float] = time.time, migrate: bool = True) -> Storage:
    """Open (and, unless told not to, migrate) the database named by a path or a postgresql:// URL."""
    target = default_db() if target is None else target
    if is_postgres(target):
        from bot.storage.postgres import PostgresStorage

        return PostgresStorage(str(target), clock=clock, migrate=migrate)
    from bot.storage.sqlite import SqliteStorage

    return SqliteStorage(target, clock=clock, migrate=migrate)


def unavailable(exc: BaseException) -> bool:
    """True if the error says the database is away or busy (the message is worth trying again), not a bug."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    if "psycopg" not in sys.modules:  # PostgreSQL never used in this process
        return False
    import psycopg
    from psycopg import errors

    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, errors.TransactionRollback))
