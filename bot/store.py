"""Kept for old imports: the storage now lives in `bot.storage` (protocols, SQLite, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from bot.storage import default_db
from bot.storage.base import Storage as Store
from bot.storage.sqlite import SqliteStorage as SqliteStore

__all__ = ["SqliteStore", "Store", "default_db_path"]


def default_db_path() -> Path:
    return Path(default_db())
