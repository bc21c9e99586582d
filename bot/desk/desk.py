"""Cases and moderator actions, on the storage protocols (no SQL here).

Every action that touches a user's case runs under that user's lock (`storage.locked`), the same lock the
service holds while it handles the user's message, so a close or reopen is never undone by a message that was
being handled at the same moment.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from bot.core.i18n import Strings
from bot.desk.moderators import Moderators
from bot.storage.base import Row, Storage

CLOSED_GRACE = 86400.0  # pending rows of a case closed this long ago are dropped by `purge`
SEEN_DAYS = 7.0

Audit = Callable[[str, str, int | None, str], None]  # (moderator, action, case id, detail)


class NotAllowed(Exception):
    """Raised when someone who is not a moderator tries a desk action."""


class NotFound(LookupError):
    """No such case."""


class Desk:
    def __init__(
        self,
        store: Storage,
        strings: Strings,
        is_moderator: Callable[[str], bool] | None = None,
        surfaces: tuple[str, ...] = (),
        show_names: bool = False,
        overdue_after: float = 3600.0,
        clock: Callable[[], float] | None = None,
        snippets: Callable[[str], dict[str, str]] | None = None,
        audit: Audit | None = None,
    ):
        self.store = store
        self.t = strings
        self.is_moderator = is_moderator if is_moderator is not None else Moderators()
        self.surfaces = surfaces  # moderator surfaces that get case events: "mod:telegram", "mod:discord"
        self.show_names = show_names
        self.overdue_after = overdue_after
        self.clock = clock or store.clock
        self._snippets = snippets
        self.audit = audit

    def _check(self, moderator: str, action: str = "", case_id: int | None = None, detail: str = "") -> None:
        if not self.is_moderator(moderator):
            raise NotAllowed(moderator)
        if self.audit and action:
            self.audit(moderator, action, case_id, detail)

    def case(self, case_id: int) -> Row:
        case = self.store.cases.get(case_id)
        if case is None:
            raise NotFound(case_id)
        return case

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
        with self.store.locked(user):
            case_id, created = self.store.cases.open(user, channel, topic, priority, list(tags), display_name or user)
            if created:
                self._to_surfaces(case_id, "opened", topic)
            if text:
                self.add_message(case_id, "user", display_name or user, text)
        return case_id

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
        self._check(moderator, "escalate", None, user)
        with self.store.locked(user):
            case_id = self.open_case(
                user, channel, topic or reason[:80], priority=priority, tags=(topic,) if topic else (), display_name=display_name
            )
            if quoted:
                self.add_message(case_id, "quote", display_name or user, quoted)
            self.add_message(case_id, "note", moderator, f"escalated: {reason}")
            state = self.store.users.get(user)
            state.case_id = case_id
            self.store.users.put(user, state)
        return case_id

    def open_case_for(self, user: str) -> Row | None:
        return self.store.cases.open_for(user)

    def add_message(self, case_id: int, author: str, name: str, text: str) -> None:
        with self.store.atomic():
            self.store.cases.add_message(case_id, author, name, text)
            if author == "user":
                self._to_surfaces(case_id, "user_message", text)

    def _to_surfaces(self, case_id: int, event: str, text: str) -> None:
        for surface in self.surfaces:
            self.enqueue(surface, str(case_id), {"event": event, "case_id": case_id, "text": text}, case_id)

    # -- moderator actions ----------------------------------------------------------------------

    def list(self, moderator: str, include_closed: bool = False) -> list[Row]:
        self._check(moderator)
        rows = self.store.cases.list(include_closed)
        now = self.clock()
        for row in rows:
            row["age"] = now - row["created"]
            row["overdue"] = row["status"] == "waiting" and row["age"] > self.overdue_after
        return rows

    def show(self, moderator: str, case_id: int) -> tuple[Row, list[Row]]:
        self._check(moderator)
        return self.case(case_id), self.store.cases.messages(case_id)

    def claim(self, moderator: str, case_id: int) -> tuple[bool, str]:
        """Atomic: of two moderators claiming at once, one wins; the other learns who."""
        self._check(moderator, "claim", case_id)
        self.case(case_id)
        if self.store.cases.claim(case_id, moderator):
            return True, moderator
        return False, self.case(case_id)["claimed_by"] or ""

    def release(self, moderator: str, case_id: int) -> bool:
        """Give a claimed case back to the queue (only the moderator holding it can)."""
        self._check(moderator, "release", case_id)
        self.case(case_id)
        return self.store.cases.release(case_id, moderator)

    def release_stale(self, seconds: float) -> list[int]:
        """Claimed cases whose moderator sent no reply within `seconds` of claiming go back to the queue."""
        now, released = self.clock(), []
        for case in self.store.cases.list():
            if case["status"] != "claimed" or case["claimed"] is None or now - case["claimed"] < seconds:
                continue
            messages = self.store.cases.messages(case["id"])
            if any(m["author"] == "moderator" and m["at"] >= case["claimed"] for m in messages):
                continue
            if self.store.cases.release(case["id"], case["claimed_by"]):
                if self.audit:
                    self.audit("system", "auto-release", case["id"], case["claimed_by"] or "")
                released.append(case["id"])
        return released

    def reply(self, moderator: str, case_id: int, text: str, name: str | None = None) -> None:
        self._check(moderator, "reply", case_id)
        user = self.case(case_id)["user"]
        with self.store.locked(user):
            case = self.case(case_id)
            if case["status"] == "closed":
                raise ValueError(f"case {case_id} is closed")
            if case["status"] == "waiting":
                self.store.cases.claim(case_id, moderator)
            self.add_message(case_id, "moderator", name or moderator, text)
            lang = self.store.users.get(user).lang
            shown = name if (self.show_names and name) else self.t("moderator", lang)
            self.enqueue(
                case["channel"],
                user,
                {"kind": "moderator", "text": self.t("moderator_says", lang, name=shown, text=text)},
                case_id,
            )

    def note(self, moderator: str, case_id: int, text: str) -> None:
        self._check(moderator, "note", case_id)
        self.case(case_id)
        self.add_message(case_id, "note", moderator, text)

    def tag(self, moderator: str, case_id: int, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> list[str]:
        self._check(moderator, "tag", case_id, " ".join([*(f"+{t}" for t in add), *(f"-{t}" for t in remove)]))
        with self.store.atomic():
            tags = sorted((set(self.case(case_id)["tags"] or []) | set(add)) - set(remove))
            self.store.cases.update(case_id, tags=tags)
        return tags

    def close(self, moderator: str, case_id: int) -> None:
        self._check(moderator, "close", case_id)
        case = self.case(case_id)
        with self.store.locked(case["user"]):
            self._close(self.case(case_id), notify=True)

    def close_by_user(self, user: str) -> None:
        with self.store.locked(user):
            case = self.open_case_for(user)
            if case:
                self.add_message(case["id"], "system", "bot", self.t("desk_user_stopped", "en"))
                self._close(case, notify=False)

    def _close(self, case: Row, notify: bool, notice: str = "handoff_closed") -> None:
        """Close a case and clear it from the user's state (the caller holds the user's lock)."""
        case_id, user = case["id"], case["user"]
        if case["status"] == "closed":
            return
        self.store.cases.update(case_id, status="closed", closed=self.clock())
        state = self.store.users.get(user)
        if state.case_id == case_id:
            state.case_id = None
            self.store.users.put(user, state)
        if notify:
            self.enqueue(case["channel"], user, {"kind": "notice", "text": self.t(notice, state.lang)}, case_id)
        self._to_surfaces(case_id, "closed", "")

    def reopen(self, moderator: str, case_id: int) -> None:
        self._check(moderator, "reopen", case_id)
        user = self.case(case_id)["user"]
        with self.store.locked(user):
            case = self.case(case_id)
            other = self.open_case_for(user)
            if other and other["id"] != case_id:
                raise ValueError(f"user already has open case {other['id']}")
            self.store.cases.update(case_id, status="claimed", claimed_by=moderator, closed=None)
            state = self.store.users.get(user)
            state.case_id = case_id
            self.store.users.put(user, state)
            self.enqueue(case["channel"], user, {"kind": "notice", "text": self.t("handoff_reopened", state.lang)}, case_id)

    def block(self, moderator: str, user: str, seconds: float) -> None:
        """Block a user; an open case is closed and the user told once (not again when they next write)."""
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError("the block needs a positive number of hours")
        self._check(moderator, "block", None, f"{user} {seconds:g} s")
        with self.store.locked(user):
            self.store.blocks.block(user, self.clock() + seconds, moderator)
            case = self.open_case_for(user)
            if case:
                self.add_message(case["id"], "note", moderator, f"blocked for {int(seconds)} s")
                self._close(case, notify=True, notice="blocked")
                self.store.blocks.notice_due(user)  # told now: no second notice when they write

    def blocked(self, user: str) -> bool:
        return self.store.blocks.blocked(user)

    def block_notice_due(self, user: str) -> bool:
        """True once per block: blocked users get one polite message."""
        return self.store.blocks.notice_due(user)

    def export(self, moderator: str, case_id: int) -> str:
        case, messages = self.show(moderator, case_id)
        lines = [f"Case {case['id']} · {case['channel']} · {case['display_name']} · {case['status']} · topic: {case['topic']}"]
        for m in messages:
            stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(m["at"]))
            lines.append(f"[{stamp}] {m['author']} {m['name']}: {m['text']}")
        return "\n".join(lines)

    def snippets(self, lang: str) -> dict[str, str]:
        """Saved replies by name (the standard referral texts, short form)."""
        return self._snippets(lang) if self._snippets else {}

    def user_lang(self, user: str) -> str:
        return self.store.users.get(user).lang

    # -- outbox ---------------------------------------------------------------------------------

    def enqueue(self, channel: str, target: str, payload: dict[str, Any], case_id: int | None = None) -> int:
        return self.store.outbox.enqueue(channel, target, payload, case_id)

    def due(self, channel: str, target: str | None = None) -> list[Row]:
        """Rows waiting to go out on `channel` whose time has come (a read; the relay leases them)."""
        now = self.clock()
        return [r for r in self.store.outbox.pending(channel, target) if r["status"] == "pending" and r["next_at"] <= now]

    def sent(self, outbox_id: int) -> None:
        self.store.outbox.sent(outbox_id)

    def failed(self, outbox_id: int, error: str, permanent: bool = False) -> bool:
        return self.store.outbox.failed(outbox_id, error, permanent=permanent)

    def dead_letters(self) -> list[Row]:
        return self.store.outbox.dead()

    # -- retention -------------------------------------------------------------------------------

    def purge(self, days: float) -> int:
        """Delete closed cases older than `days` (transcripts and their outbox rows go with them, by cascade),
        delivered outbox rows older than `days`, and rows still pending or dead for cases closed a day ago."""
        now = self.clock()
        cutoff = now - days * 86400
        with self.store.atomic():
            removed = self.store.cases.purge_closed(cutoff)
            self.store.outbox.purge(sent_before=cutoff, closed_before=now - CLOSED_GRACE)
            self.store.dedup.purge(now - SEEN_DAYS * 86400)
        return removed
