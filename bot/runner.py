"""`influbot run`: start every channel whose token is set (or the one named)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from bot.config import Settings

log = logging.getLogger(__name__)


def run(channel: str, settings: Settings) -> int:
    wanted = {"telegram": bool(settings.telegram_token), "discord": bool(settings.discord_token)}
    if channel != "all" and not wanted[channel]:
        var = "TELEGRAM_BOT_TOKEN" if channel == "telegram" else "DISCORD_BOT_TOKEN"
        print(f"influbot: {var} is not set; see README 'Run it on {channel.title()}'.", file=sys.stderr)
        return 2
    chosen = [c for c in ("telegram", "discord") if (channel in (c, "all")) and wanted[c]]
    if not chosen:
        print(
            "influbot: no channel configured: set TELEGRAM_BOT_TOKEN and/or DISCORD_BOT_TOKEN (or use `influbot chat`).",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_run_all(chosen, settings))


async def _run_all(channels: list[str], settings: Settings) -> int:
    from bot.service import Service

    surfaces = tuple(
        f"mod:{c}"
        for c in channels
        if (c == "telegram" and settings.telegram_mod_chat_id) or (c == "discord" and settings.discord_mod_channel_id)
    )
    service = Service.create(settings, surfaces=surfaces)
    stop = asyncio.Event()  # one stop signal for every channel, so SIGTERM ends them all cleanly
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks = []
    for name in channels:
        if name == "telegram":
            from bot.adapters import telegram_adapter

            tasks.append(telegram_adapter.serve(service, settings, stop))
        else:
            from bot.adapters import discord_adapter

            tasks.append(discord_adapter.serve(service, settings, stop))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    codes = [r if isinstance(r, int) else 1 for r in results]
    for r in results:
        if isinstance(r, BaseException):
            log.error("channel stopped: %s", r)
    return max(codes)


def relay(settings: Settings) -> int:
    """`influbot relay`: only the Telegram outbox relay (moderator replies, notices, case topics, retries)."""
    if not settings.telegram_token:
        print("influbot: TELEGRAM_BOT_TOKEN is not set.", file=sys.stderr)
        return 2
    return asyncio.run(_relay(settings))


async def _relay(settings: Settings) -> int:
    from bot.adapters.telegram_adapter import adapter_of, build_application
    from bot.service import Service

    surfaces = ("mod:telegram",) if settings.telegram_mod_chat_id else ()
    service = Service.create(settings, surfaces=surfaces)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = build_application(service, settings)
    async with app:
        await adapter_of(app).relay_for(app.bot).run_forever(stop)
    service.store.close()
    return 0
