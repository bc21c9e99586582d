"""Settings from the environment (tokens only ever come from here)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.storage import default_db


def _ids(raw: str) -> frozenset[str]:
    return frozenset(x.strip() for x in raw.split(",") if x.strip())


@dataclass(frozen=True)
class Settings:
    db_path: str | Path = field(default_factory=default_db)  # a file path or a postgresql:// URL
    retention_days: float = 30.0
    overdue_minutes: float = 60.0
    show_moderator_names: bool = False
    flood_messages: int = 8
    flood_seconds: float = 10.0
    telegram_token: str | None = None
    telegram_mod_chat_id: str | None = None
    telegram_moderator_ids: frozenset[str] = frozenset()
    telegram_webhook_url: str | None = None
    telegram_api_base_url: str | None = None
    telegram_rate_limit: bool = True  # PTB's AIORateLimiter (per process); off only against a fake Bot API
    outbox_lease_seconds: float = 30.0  # a row leased by a process that died is sent again after this
    webhook_relay: bool = True  # webhook workers also run the relay loop (off when a separate `influbot relay` runs)
    claim_timeout_minutes: float = 15.0  # a claimed case with no reply this long goes back to the queue (0: never)
    web_https: bool = False  # the web desk is served over https (behind a proxy): session cookie marked Secure
    web_session_hours: float = 12.0  # a web session idle this long ends
    discord_token: str | None = None
    discord_guild_id: str | None = None
    discord_mod_channel_id: str | None = None
    discord_mod_role_id: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        get = lambda k: env.get(k) or None  # noqa: E731
        return cls(
            db_path=env.get("INFLUBOT_DB") or default_db(),
            retention_days=float(env.get("INFLUBOT_RETENTION_DAYS", 30)),
            overdue_minutes=float(env.get("INFLUBOT_OVERDUE_MINUTES", 60)),
            show_moderator_names=env.get("INFLUBOT_SHOW_MODERATOR_NAMES", "0") in ("1", "true", "yes"),
            flood_messages=int(env.get("INFLUBOT_FLOOD_MESSAGES", 8)),
            flood_seconds=float(env.get("INFLUBOT_FLOOD_SECONDS", 10)),
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_mod_chat_id=get("TELEGRAM_MOD_CHAT_ID"),
            telegram_moderator_ids=_ids(env.get("TELEGRAM_MODERATOR_IDS", "")),
            telegram_webhook_url=get("TELEGRAM_WEBHOOK_URL"),
            telegram_api_base_url=get("TELEGRAM_API_BASE_URL"),
            telegram_rate_limit=env.get("INFLUBOT_TELEGRAM_RATE_LIMIT", "1") not in ("0", "false", "no"),
            outbox_lease_seconds=float(env.get("INFLUBOT_OUTBOX_LEASE_SECONDS", 30)),
            webhook_relay=env.get("INFLUBOT_WEBHOOK_RELAY", "1") not in ("0", "false", "no"),
            claim_timeout_minutes=float(env.get("INFLUBOT_CLAIM_TIMEOUT_MINUTES", 15)),
            web_https=env.get("INFLUBOT_WEB_HTTPS", "0") in ("1", "true", "yes"),
            web_session_hours=float(env.get("INFLUBOT_WEB_SESSION_HOURS", 12)),
            discord_token=get("DISCORD_BOT_TOKEN"),
            discord_guild_id=get("DISCORD_GUILD_ID"),
            discord_mod_channel_id=get("DISCORD_MOD_CHANNEL_ID"),
            discord_mod_role_id=get("DISCORD_MOD_ROLE_ID"),
        )
