"""Storage behind a small interface; the default is SQLite (sqlite-utils, WAL mode)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from bot.core.types import State

SCHEMA_VERSION = 1


def default_db_path() -> Path:
    if os.environ.get("INFLUBOT_DB"):
        return Path(os.environ["INFLUBOT_DB"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "influbot" / "influbot.db"


class Store(Protocol):
    def get_state(self, user: str) -> State: ...
    def put_state(self, user: str, state: State) -> None: ...
    def record_safety(self, user: str, topic: str, severity: str, channel: str) -> None: ...
    def seen(self, user: str, message_id: str) -> bool: ...
    def forget(self, user: str) -> None: ...


class SqliteStore:
    """Per-user state, safety events (topic + time, never text), the desk and its outbox."""

    def __init__(self, path: str | Path = ":memory:", clock: Any = time.time):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=5.0)
        self.db = sqlite_utils.Database(conn)
        if str(path) != ":memory:":
            self.db.enable_wal()
        self.clock = clock
        self._migrate()

    def _migrate(self) -> None:
        db = self.db
        meta = db["meta"]
        if not meta.exists():
            meta.create({"key": str, "value": str}, pk="key")
        row = next(iter(meta.rows_where("key = 'schema'")), None)
        version = int(row["value"]) if row else 0
        if version < 1:
            db["users"].create({"user": str, "state": str, "updated": float}, pk="user", if_not_exists=True)
            db["safety_events"].create(
                {"id": int, "user": str, "topic": str, "severity": str, "channel": str, "at": float}, pk="id", if_not_exists=True
            )
            db["inbound_seen"].create(
                {"user": str, "message_id": str, "at": float}, pk=("user", "message_id"), if_not_exists=True
            )
            db["cases"].create(
                {
                    "id": int,
                    "user": str,
                    "channel": str,
                    "display_name": str,
                    "status": str,
                    "topic": str,
                    "priority": int,
                    "tags": str,
                    "created": float,
                    "claimed": float,
                    "closed": float,
                    "claimed_by": str,
                    "updated": float,
                },
                pk="id",
                if_not_exists=True,
            )
            db["case_messages"].create(
                {"id": int, "case_id": int, "author": str, "name": str, "text": str, "at": float}, pk="id", if_not_exists=True
            )
            db["outbox"].create(
                {
                    "id": int,
                    "channel": str,
                    "target": str,
                    "case_id": int,
                    "payload": str,
                    "status": str,
                    "attempts": int,
                    "next_at": float,
                    "created": float,
                    "sent_at": float,
                    "error": str,
                },
                pk="id",
                if_not_exists=True,
            )
            db["blocks"].create({"user": str, "until": float, "by": str, "notified": int}, pk="user", if_not_exists=True)
            db["mod_threads"].create({"case_id": int, "surface": str, "ref": str}, pk=("case_id", "surface"), if_not_exists=True)
            db["cases"].create_index(["status", "priority"], if_not_exists=True)
            db["case_messages"].create_index(["case_id"], if_not_exists=True)
            db["outbox"].create_index(["status", "channel", "next_at"], if_not_exists=True)
            meta.upsert({"key": "schema", "value": str(SCHEMA_VERSION)}, pk="key")

    # -- users ------------------------------------------------------------------------------

    def get_state(self, user: str) -> State:
        row = next(iter(self.db["users"].rows_where("user = ?", [user])), None)
        return State.from_dict(json.loads(row["state"])) if row else State()

    def put_state(self, user: str, state: State) -> None:
        self.db["users"].upsert({"user": user, "state": json.dumps(state.to_dict()), "updated": self.clock()}, pk="user")

    def record_safety(self, user: str, topic: str, severity: str, channel: str) -> None:
        self.db["safety_events"].insert(
            {"user": user, "topic": topic, "severity": severity, "channel": channel, "at": self.clock()}
        )

    def seen(self, user: str, message_id: str) -> bool:
        """True if this platform message was handled before; records it otherwise."""
        cur = self.db.conn.execute(
            "INSERT OR IGNORE INTO inbound_seen (user, message_id, at) VALUES (?, ?, ?)", (user, message_id, self.clock())
        )
        self.db.conn.commit()
        return cur.rowcount == 0

    def forget(self, user: str) -> None:
        with self.db.conn:
            case_ids = [r["id"] for r in self.db["cases"].rows_where("user = ?", [user], select="id")]
            for case_id in case_ids:
                self.db.conn.execute("DELETE FROM case_messages WHERE case_id = ?", (case_id,))
                self.db.conn.execute("DELETE FROM mod_threads WHERE case_id = ?", (case_id,))
            for table in ("cases", "users", "safety_events", "inbound_seen", "blocks"):
                self.db.conn.execute(f"DELETE FROM {table} WHERE user = ?", (user,))
            self.db.conn.execute("DELETE FROM outbox WHERE target = ?", (user,))

    def safety_events(self, user: str) -> list[dict[str, Any]]:
        return list(self.db["safety_events"].rows_where("user = ?", [user]))
