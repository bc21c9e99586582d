"""Flood control that never loses a message (per user, inside one process; Telegram and Discord use it).

At most `limit` messages of a user are handled in any `seconds`. Over that, a message waits for its turn instead of
being dropped, and the user hears once that their messages are kept. When the turn comes, the texts that waited
behind it in the same conversation are merged into it (up to `MERGE_CHARS`), so a burst gets one answer and every
line still reaches the bot (or the moderator). Handling is in arrival order per user.

- A crisis message never waits: it is handled at once, before any waiting messages.
- A request for a human is never held back: it is handled at once, together with the messages waiting before it,
  in order (one per window; more requests in the same burst wait like any message, and are kept).
- The window counts the messages' own times (the platform's timestamps), not the time they are handled, so a calm
  backlog delivered after a restart or an outage is not a flood.

`influbot chat` and `chat --json` do not use this: the console has no flood limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.core.types import Inbound
from bot.guard import log_failure

log = logging.getLogger(__name__)

Urgency = Literal["crisis", "human"] | None
Handle = Callable[[Inbound], Awaitable[Any]]
OnWait = Callable[[bool], Awaitable[Any]]  # called once when a message starts to wait; True for the first of a burst

MERGE_CHARS = 3500  # a merged message stays under the engine's 4,000-character reading limit
PRUNE_EVERY = 1000  # submissions between sweeps of idle users


class Window:
    """When a user's next message may be handled: at most `limit` handlings in any `seconds`."""

    def __init__(self, limit: int, seconds: float):
        self.seconds = seconds
        self.times: deque[float] = deque(maxlen=max(1, limit))

    def due(self, sent_at: float) -> float:
        """The earliest time a message sent at `sent_at` may be handled."""
        if len(self.times) < (self.times.maxlen or 1):
            return sent_at
        return max(sent_at, self.times[0] + self.seconds)

    def record(self, due: float) -> None:
        """Count a handling at `due` (what `due()` gave, so at message time when the message was not held back)."""
        self.times.append(max(due, self.times[-1]) if self.times else due)

    def idle(self, now: float) -> bool:
        return not self.times or now - self.times[-1] > self.seconds


@dataclass
class _Waiting:
    inbound: Inbound
    handle: Handle
    sent_at: float
    conversation: object
    mergeable: bool
    on_wait: OnWait | None
    urgency: Urgency = None
    waited: bool = False  # it was in the queue while the user was over the limit: it may be merged
    told: bool = False
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _User:
    window: Window
    queue: deque[_Waiting] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None
    sleeping: bool = False
    warned: bool = False
    human_at: float = -1e18  # when a request for a human last went ahead of the queue


class FloodGate:
    def __init__(
        self,
        limit: int,
        seconds: float,
        urgency: Callable[[Inbound], Urgency],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.limit, self.seconds = limit, seconds
        self.urgency = urgency
        self.clock = clock
        self.sleep = sleep
        self.users: dict[str, _User] = {}
        self._submitted = 0

    def submit(
        self,
        inbound: Inbound,
        handle: Handle,
        *,
        sent_at: float | None = None,
        conversation: object = None,
        mergeable: bool = True,
        on_wait: OnWait | None = None,
    ) -> Awaitable[None]:
        """Queue a message; the result completes once `handle` has run for it (alone or merged into another).

        Queuing happens before this returns, so a caller that submits before its first `await` keeps arrival order.
        """
        now = self.clock()
        self._prune(now)
        user = self.users.get(inbound.user)
        if user is None:
            user = self.users[inbound.user] = _User(Window(self.limit, self.seconds))
        item = _Waiting(
            inbound,
            handle,
            min(sent_at, now) if sent_at is not None else now,
            conversation,
            mergeable and inbound.kind == "text" and not inbound.text.lstrip().startswith("/"),
            on_wait,
        )
        if self._would_wait(user, item, now):  # only then does urgency matter (otherwise it goes in order, now)
            item.urgency = self._urgency(inbound)
        if item.urgency == "crisis":  # never waits, goes before whatever is waiting, and is not counted
            return asyncio.ensure_future(self._run(item.handle, item.inbound))
        if item.urgency == "human" and now - user.human_at < self.seconds:
            item.urgency = None  # one request for a human per window goes ahead; the others wait their turn (kept)
        if item.urgency == "human":
            item.mergeable, user.human_at = False, now
            user.wake.set()
        user.queue.append(item)
        if user.sleeping and not item.urgency:
            item.waited = True
            asyncio.ensure_future(self._tell(user, item))
        if user.worker is None or user.worker.done():
            user.worker = asyncio.ensure_future(self._drain(user))
        return item.done

    def _would_wait(self, user: _User, item: _Waiting, now: float) -> bool:
        """Whether the window, with what is queued ahead, holds this message back."""
        recent = sum(1 for t in user.window.times if t > now - self.seconds)
        return user.sleeping or recent + len(user.queue) >= self.limit or user.window.due(item.sent_at) > now

    def _urgency(self, inbound: Inbound) -> Urgency:
        try:
            return self.urgency(inbound)
        except Exception as exc:  # noqa: BLE001 - when unsure, treat it as a crisis: it is then never held back
            log_failure(log, "flood urgency", exc)
            return "crisis"

    async def _drain(self, user: _User) -> None:
        while user.queue:
            now = self.clock()
            due = user.window.due(user.queue[0].sent_at)
            if due > now and not any(w.urgency == "human" for w in user.queue):
                await self._wait(user, due - now)
                continue
            batch = self._take(user)
            user.window.record(due)  # on the messages' clock: a backlog of old messages fills no window
            await self._run(batch[-1].handle, self._merge(batch))
            for item in batch:
                if not item.done.done():
                    item.done.set_result(None)
        user.warned = False

    async def _wait(self, user: _User, seconds: float) -> None:
        user.sleeping = True
        for item in list(user.queue):
            item.waited = True
            await self._tell(user, item)
        user.wake.clear()
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waker = asyncio.ensure_future(user.wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            user.sleeping = False
            for task in (sleeper, waker):
                task.cancel()

    async def _tell(self, user: _User, item: _Waiting) -> None:
        """Let a waiting message's sender know (the first of a burst hears it; others may just be acknowledged)."""
        if item.told or item.on_wait is None:
            return
        item.told = True
        first, user.warned = not user.warned, True
        try:
            await item.on_wait(first)
        except Exception as exc:  # noqa: BLE001 - a failed notice must not stop the queue
            log_failure(log, "flood notice", exc)

    def _take(self, user: _User) -> list[_Waiting]:
        """The head of the queue, and the texts right behind it in the same conversation that had to wait."""
        batch = [user.queue.popleft()]
        size = len(batch[0].inbound.text)
        while user.queue and batch[0].mergeable:
            nxt = user.queue[0]
            if (
                not (nxt.waited and nxt.mergeable)
                or nxt.conversation != batch[0].conversation
                or size + len(nxt.inbound.text) > MERGE_CHARS
            ):
                break
            size += len(nxt.inbound.text) + 1
            batch.append(user.queue.popleft())
        return batch

    @staticmethod
    def _merge(batch: list[_Waiting]) -> Inbound:
        if len(batch) == 1:
            return batch[0].inbound
        ids = [w.inbound.message_id for w in batch if w.inbound.message_id]
        return dataclasses.replace(
            batch[-1].inbound,
            text="\n".join(w.inbound.text for w in batch),
            message_id="+".join(ids) if ids else None,
        )

    async def _run(self, handle: Handle, inbound: Inbound) -> None:
        try:
            await handle(inbound)
        except Exception as exc:  # noqa: BLE001 - handlers guard themselves; this keeps the queue alive regardless
            log_failure(log, "flood handler", exc)

    def _prune(self, now: float) -> None:
        self._submitted += 1
        if self._submitted % PRUNE_EVERY:
            return
        for key in [k for k, u in self.users.items() if not u.queue and u.window.idle(now)]:
            del self.users[key]

    async def close(self) -> None:
        """Stop the workers (at shutdown)."""
        for user in self.users.values():
            if user.worker is not None:
                user.worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await user.worker
