"""`influbot run`: start every channel whose token is set (or the one named)."""

from __future__ import annotations

import asyncio
import logging
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
    tasks = []
    for name in channels:
        if name == "telegram":
            from bot.adapters import telegram_adapter

            tasks.append(telegram_adapter.serve(service, settings))
        else:
            from bot.adapters import discord_adapter

            tasks.append(discord_adapter.serve(service, settings))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    codes = [r if isinstance(r, int) else 1 for r in results]
    for r in results:
        if isinstance(r, BaseException):
            log.error("channel stopped: %s", r)
    return max(codes)
