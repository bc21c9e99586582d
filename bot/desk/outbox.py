"""One relay loop for every channel: lease a row, send it through that channel's `Sender`, mark it sent.

Guarantee: a row is sent at least once and, unless a process dies between sending and marking, exactly once;
a crash gives at most one duplicate (the lease runs out and another pass sends it again). Rows for one target
go out in the order they were written. Permanent errors (the user blocked the bot, the chat is gone) go to the
dead letters at once; other errors back off exponentially with jitter, and after five tries the row is dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bot.core import types
from bot.core.types import Reply
from bot.offload import offload
from bot.storage.base import Outbox, Row

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
POLL_SECONDS = 1.0
RETRY_SECONDS = 2.0
BATCH = 50

Offload = Callable[..., Awaitable[Any]]


class Sender(Protocol):
    """Delivers outbox rows of one channel ("telegram", "mod:telegram", "discord", ...)."""

    channel: str

    async def send(self, row: Row) -> None: ...

    def permanent(self, exc: BaseException) -> bool:
        """True if retrying cannot help (blocked by the user, chat not found)."""
        ...


class Relay:
    def __init__(
        self,
        outbox: Outbox,
        senders: Sequence[Sender],
        *,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        run: Offload = offload,
    ):
        self.outbox = outbox
        self.senders = {s.channel: s for s in senders}
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.run = run
        self._sending = asyncio.Lock()

    async def _deliver(self, sender: Sender, row: Row) -> bool:
        # One row at a time between "handed to the platform" and "marked sent", per relay: a kill -9 can then
        # repeat at most one row. (Telegram allows about 30 messages a second per bot anyway.)
        async with self._sending:
            try:
                await sender.send(row)
            except Exception as exc:  # noqa: BLE001 - one bad row must never stop the relay
                error = exc
            else:
                await self.run(self.outbox.sent, row["id"])
                return True
        permanent = sender.permanent(error)
        log.warning(
            "outbox %s on %s failed%s: %s", row["id"], sender.channel, " (permanent)" if permanent else "", type(error).__name__
        )
        reason = f"{type(error).__name__}: {error}"
        await self.run(self.outbox.failed, row["id"], reason, permanent=permanent, retry_in=self.retry_seconds)
        return False

    async def deliver(self, row: Row) -> bool:
        """Send one row the caller already holds the lease of (see `Outbox.enqueue_leased`)."""
        return await self._deliver(self.senders[row["channel"]], row)

    async def flush(self, channel: str, target: str | None = None, limit: int = 1000) -> int:
        """Send what is due on `channel` (only for `target` if given) until nothing is left; returns rows sent."""
        sender = self.senders.get(channel)
        if sender is None:
            return 0
        done = 0
        for _ in range(limit):
            rows = await self.run(self.outbox.lease, channel, target=target, limit=BATCH, seconds=self.lease_seconds)
            if not rows:
                break
            results = await asyncio.gather(*(self._deliver(sender, row) for row in rows))  # one row per target
            done += sum(results)
            if not all(results):
                break  # a failed row holds its queue until its retry time
        return done

    async def step(self) -> int:
        done = 0
        for channel in self.senders:
            try:
                done += await self.flush(channel)
            except Exception:  # noqa: BLE001 - the database may be away for a moment; try again next pass
                log.exception("relay pass for %s failed", channel)
        return done

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)


# -- reply parts in an outbox row ---------------------------------------------------------------------


def encode_parts(parts: Reply | list[Any]) -> list[dict[str, Any]]:
    """Reply parts as JSON-safe dicts (what an adapter queues instead of sending at once)."""
    return [{"type": type(p).__name__, **dataclasses.asdict(p)} for p in parts]


def decode_parts(raw: list[dict[str, Any]]) -> Reply:
    reply = Reply()
    for item in raw:
        item = dict(item)
        cls = getattr(types, item.pop("type"))
        if cls is types.Choices:
            item["options"] = tuple(types.Choice(**o) for o in item["options"])
        fields = {
            f.name: (tuple(item[f.name]) if isinstance(item.get(f.name), list) else item.get(f.name))
            for f in dataclasses.fields(cls)
            if f.name in item
        }
        reply.append(cls(**fields))
    return reply
