"""Cases, moderator actions and the outbox that relays messages both ways."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot.core.i18n import Strings
from bot.store import SqliteStore

MAX_ATTEMPTS = 5


class NotAllowed(Exception):
    """Raised when someone who is not a moderator tries a desk action."""


class Desk:
    def __init__(
        self,
        store: SqliteStore,
        strings: Strings,
        is_moderator: Callable[[str], bool] = lambda who: who.startswith("console:"),
        surfaces: tuple[str, ...] = (),
        show_names: bool = False,
        overdue_after: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.db = store.db
        self.t = strings
        self.is_moderator = is_moderator
        self.surfaces = surfaces  # moderator surfaces that get case events: "mod:telegram", "mod:discord"
        self.show_names = show_names
        self.overdue_after = overdue_after
        self.clock = clock

    def _check(self, moderator: str) -> None:
        if not self.is_moderator(moderator):
            raise NotAllowed(moderator)

    # -- ways in ------------------------------------------------------------------------------

    def open_case(
        self,
        user: str,
        channel: str,
        topic: str,
        text: str = "",
        priority: int = 0,
        tags: tuple[str, ...] = (),
        display_name: str | None = None,
    ) -> int:
        """Open a case, or return the user's open one (raising its priority if needed)."""
        now = self.clock()
        existing = self.open_case_for(user)
        if existing:
            case_id = existing["id"]
            merged = sorted(set(json.loads(existing["tags"] or "[]")) | set(tags))
            self.db["cases"].update(
                case_id, {"priority": max(priority, existing["priority"]), "tags": json.dumps(merged), "updated": now}
            )
        else:
            case_id = (
                self.db["cases"]
                .insert(
                    {
                        "user": user,
                        "channel": channel,
                        "display_name": display_name or user,
                        "status": "waiting",
                        "topic": topic,
                        "priority": priority,
                        "tags": json.dumps(sorted(tags)),
                        "created": now,
                        "updated": now,
                    }
                )
                .last_pk
            )
            self._to_surfaces(case_id, "opened", topic)
        if text:
            self.add_message(case_id, "user", display_name or user, text)
        return int(case_id)

    def escalate(
        self,
        moderator: str,
        user: str,
        channel: str,
        reason: str,
        quoted: str = "",
        topic: str = "",
        priority: int = 0,
        display_name: str | None = None,
    ) -> int:
        """A moderator opens a case for a user (optionally quoting a message they saw)."""
        self._check(moderator)
        case_id = self.open_case(
            user, channel, topic or reason[:80], priority=priority, tags=(topic,) if topic else (), display_name=display_name
        )
        if quoted:
            self.add_message(case_id, "quote", display_name or user, quoted)
        self.add_message(case_id, "note", moderator, f"escalated: {reason}")
        state = self.store.get_state(user)
        state.case_id = case_id
        self.store.put_state(user, state)
        return case_id

    def open_case_for(self, user: str) -> dict[str, Any] | None:
        return next(iter(self.db["cases"].rows_where("user = ? AND status != 'closed'", [user], order_by="id desc")), None)

    def add_message(self, case_id: int, author: str, name: str, text: str) -> None:
        self.db["case_messages"].insert({"case_id": case_id, "author": author, "name": name, "text": text, "at": self.clock()})
        self.db["cases"].update(case_id, {"updated": self.clock()})
        if author == "user":
            self._to_surfaces(case_id, "user_message", text)

    def _to_surfaces(self, case_id: int, event: str, text: str) -> None:
        for surface in self.surfaces:
            self.enqueue(surface, str(case_id), {"event": event, "case_id": case_id, "text": text}, case_id)

    # -- moderator actions ----------------------------------------------------------------------

    def list(self, moderator: str, include_closed: bool = False) -> list[dict[str, Any]]:
        self._check(moderator)
        where = None if include_closed else "status != 'closed'"
        rows = list(self.db["cases"].rows_where(where, order_by="status = 'closed', priority desc, created asc"))
        now = self.clock()
        for row in rows:
            row["age"] = now - row["created"]
            row["overdue"] = row["status"] == "waiting" and row["age"] > self.overdue_after
        return rows

    def show(self, moderator: str, case_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        self._check(moderator)
        case = self.db["cases"].get(case_id)
        return case, list(self.db["case_messages"].rows_where("case_id = ?", [case_id], order_by="id"))

    def claim(self, moderator: str, case_id: int) -> tuple[bool, str]:
        """Atomic: of two moderators claiming at once, one wins; the other learns who."""
        self._check(moderator)
        with self.db.conn:
            cur = self.db.conn.execute(
                "UPDATE cases SET status = 'claimed', claimed_by = ?, claimed = ?, updated = ? WHERE id = ? AND status = 'waiting'",
                (moderator, self.clock(), self.clock(), case_id),
            )
        if cur.rowcount == 1:
            return True, moderator
        return False, self.db["cases"].get(case_id)["claimed_by"] or ""

    def reply(self, moderator: str, case_id: int, text: str, name: str | None = None) -> None:
        self._check(moderator)
        case = self.db["cases"].get(case_id)
        if case["status"] == "closed":
            raise ValueError(f"case {case_id} is closed")
        if case["status"] == "waiting":
            self.claim(moderator, case_id)
        self.add_message(case_id, "moderator", name or moderator, text)
        lang = self.store.get_state(case["user"]).lang
        shown = name if (self.show_names and name) else self.t("moderator", lang)
        self.enqueue(
            case["channel"],
            case["user"],
            {"kind": "moderator", "text": self.t("moderator_says", lang, name=shown, text=text)},
            case_id,
        )

    def note(self, moderator: str, case_id: int, text: str) -> None:
        self._check(moderator)
        self.db["cases"].get(case_id)
        self.add_message(case_id, "note", moderator, text)

    def close(self, moderator: str, case_id: int) -> None:
        self._check(moderator)
        self._close(case_id, notify=True)

    def close_by_user(self, user: str) -> None:
        case = self.open_case_for(user)
        if case:
            self.add_message(case["id"], "system", "bot", self.t("desk_user_stopped", "en"))
            self._close(case["id"], notify=False)

    def _close(self, case_id: int, notify: bool) -> None:
        case = self.db["cases"].get(case_id)
        self.db["cases"].update(case_id, {"status": "closed", "closed": self.clock(), "updated": self.clock()})
        state = self.store.get_state(case["user"])
        if state.case_id == case_id:
            state.case_id = None
            self.store.put_state(case["user"], state)
        if notify:
            self.enqueue(case["channel"], case["user"], {"kind": "notice", "text": self.t("handoff_closed", state.lang)}, case_id)
        self._to_surfaces(case_id, "closed", "")

    def reopen(self, moderator: str, case_id: int) -> None:
        self._check(moderator)
        case = self.db["cases"].get(case_id)
        other = self.open_case_for(case["user"])
        if other and other["id"] != case_id:
            raise ValueError(f"user already has open case {other['id']}")
        self.db["cases"].update(case_id, {"status": "claimed", "claimed_by": moderator, "closed": None, "updated": self.clock()})
        state = self.store.get_state(case["user"])
        state.case_id = case_id
        self.store.put_state(case["user"], state)
        self.enqueue(case["channel"], case["user"], {"kind": "notice", "text": self.t("handoff_reopened", state.lang)}, case_id)

    def block(self, moderator: str, user: str, seconds: float) -> None:
        self._check(moderator)
        self.db["blocks"].upsert({"user": user, "until": self.clock() + seconds, "by": moderator, "notified": 0}, pk="user")
        case = self.open_case_for(user)
        if case:
            self.add_message(case["id"], "note", moderator, f"blocked for {int(seconds)} s")
            self._close(case["id"], notify=False)

    def blocked(self, user: str) -> bool:
        row = next(iter(self.db["blocks"].rows_where("user = ? AND until > ?", [user, self.clock()])), None)
        return row is not None

    def block_notice_due(self, user: str) -> bool:
        """True once per block: blocked users get one polite message."""
        cur = self.db.conn.execute("UPDATE blocks SET notified = 1 WHERE user = ? AND notified = 0", (user,))
        self.db.conn.commit()
        return cur.rowcount == 1

    def export(self, moderator: str, case_id: int) -> str:
        case, messages = self.show(moderator, case_id)
        lines = [f"Case {case['id']} · {case['channel']} · {case['display_name']} · {case['status']} · topic: {case['topic']}"]
        for m in messages:
            stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(m["at"]))
            lines.append(f"[{stamp}] {m['author']} {m['name']}: {m['text']}")
        return "\n".join(lines)

    # -- outbox ---------------------------------------------------------------------------------

    def enqueue(self, channel: str, target: str, payload: dict[str, Any], case_id: int | None = None) -> int:
        now = self.clock()
        return int(
            self.db["outbox"]
            .insert(
                {
                    "channel": channel,
                    "target": target,
                    "case_id": case_id,
                    "payload": json.dumps(payload),
                    "status": "pending",
                    "attempts": 0,
                    "next_at": now,
                    "created": now,
                }
            )
            .last_pk
        )

    def due(self, channel: str, target: str | None = None) -> list[dict[str, Any]]:
        where, args = "status = 'pending' AND channel = ? AND next_at <= ?", [channel, self.clock()]
        if target is not None:
            where += " AND target = ?"
            args.append(target)
        rows = list(self.db["outbox"].rows_where(where, args, order_by="id"))
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return rows

    def sent(self, outbox_id: int) -> None:
        self.db["outbox"].update(outbox_id, {"status": "sent", "sent_at": self.clock()})

    def failed(self, outbox_id: int, error: str) -> None:
        row = self.db["outbox"].get(outbox_id)
        attempts = row["attempts"] + 1
        dead = attempts >= MAX_ATTEMPTS
        self.db["outbox"].update(
            outbox_id,
            {
                "attempts": attempts,
                "error": error[:300],
                "status": "dead" if dead else "pending",
                "next_at": self.clock() + 2**attempts,
            },
        )
        if dead and row["case_id"]:
            self.add_message(row["case_id"], "system", "bot", f"could not deliver: {error[:200]}")

    def dead_letters(self) -> list[dict[str, Any]]:
        return list(self.db["outbox"].rows_where("status = 'dead'", order_by="id"))

    # -- retention -------------------------------------------------------------------------------

    def purge(self, days: float) -> int:
        """Delete closed cases (with transcripts) and delivered outbox rows older than `days`."""
        cutoff = self.clock() - days * 86400
        with self.db.conn:
            old = [r["id"] for r in self.db["cases"].rows_where("status = 'closed' AND closed < ?", [cutoff], select="id")]
            for case_id in old:
                self.db.conn.execute("DELETE FROM case_messages WHERE case_id = ?", (case_id,))
                self.db.conn.execute("DELETE FROM mod_threads WHERE case_id = ?", (case_id,))
                self.db.conn.execute("DELETE FROM cases WHERE id = ?", (case_id,))
            self.db.conn.execute("DELETE FROM outbox WHERE status = 'sent' AND sent_at < ?", (cutoff,))
            self.db.conn.execute("DELETE FROM inbound_seen WHERE at < ?", (self.clock() - 7 * 86400,))
        return len(old)
