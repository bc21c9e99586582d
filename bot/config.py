"""Settings from the environment, validated in one place (tokens only ever come from here, and never in a repr).

A bad value raises `SettingsError` with a one-line message that names the variable; the CLI prints it and exits
with status 2. Secret values are never quoted in a message.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from bot.storage import default_db

T = TypeVar("T")

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")
TELEGRAM_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")
DISCORD_TOKEN = re.compile(r"[A-Za-z0-9_.-]{20,300}")
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
SNOWFLAKE = re.compile(r"[0-9]{1,20}")
CHAT_ID = re.compile(r"-?[0-9]{1,20}")


class SettingsError(ValueError):
    """An environment variable with a value the bot cannot use."""


@dataclass(frozen=True)
class Settings:
    db_path: str | Path = field(default_factory=default_db, repr=False)  # a file, or a postgresql:// URL (may hold a password)
    retention_days: float = 30.0
    overdue_minutes: float = 60.0
    show_moderator_names: bool = False
    flood_messages: int = 8
    flood_seconds: float = 10.0
    nlu: str = "builtin"
    rasa_url: str = "http://127.0.0.1:5005"
    telegram_token: str | None = field(default=None, repr=False)
    telegram_mod_chat_id: str | None = None
    telegram_moderator_ids: frozenset[str] = frozenset()
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    telegram_api_base_url: str | None = None
    telegram_rate_limit: bool = True  # PTB's AIORateLimiter (per process); off only against a fake Bot API
    outbox_lease_seconds: float = 30.0  # a row leased by a process that died is sent again after this
    webhook_relay: bool = True  # webhook workers also run the relay loop (off when a separate `influbot relay` runs)
    claim_timeout_minutes: float = 15.0  # a claimed case with no reply this long goes back to the queue (0: never)
    web_https: bool = False  # the web desk is served over https (behind a proxy): session cookie marked Secure
    web_session_hours: float = 12.0  # a web session idle this long ends
    discord_token: str | None = field(default=None, repr=False)
    discord_guild_id: str | None = None
    discord_mod_channel_id: str | None = None
    discord_mod_role_id: str | None = None
    discord_message_content: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values no log line may show."""
        db_password = urlparse(str(self.db_path)).password if "://" in str(self.db_path) else None
        return tuple(s for s in (self.telegram_token, self.discord_token, self.telegram_webhook_secret, db_password) if s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        r = _Reader(os.environ if env is None else env)
        return cls(
            db_path=r.text("INFLUBOT_DB") or default_db(),
            retention_days=r.number("INFLUBOT_RETENTION_DAYS", 30.0, float, minimum=0),
            overdue_minutes=r.number("INFLUBOT_OVERDUE_MINUTES", 60.0, float, minimum=0),
            show_moderator_names=r.flag("INFLUBOT_SHOW_MODERATOR_NAMES"),
            flood_messages=r.number("INFLUBOT_FLOOD_MESSAGES", 8, int, minimum=1),
            flood_seconds=r.number("INFLUBOT_FLOOD_SECONDS", 10.0, float, minimum=0),
            nlu=r.choice("INFLUBOT_NLU", ("builtin", "rasa")),
            rasa_url=r.url("RASA_URL") or "http://127.0.0.1:5005",
            telegram_token=r.secret("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN, "digits, a colon, then letters, digits, _ or -"),
            telegram_mod_chat_id=r.pattern("TELEGRAM_MOD_CHAT_ID", CHAT_ID, "a chat id such as -1001234567890"),
            telegram_moderator_ids=r.ids("TELEGRAM_MODERATOR_IDS"),
            telegram_webhook_url=r.url("TELEGRAM_WEBHOOK_URL"),
            telegram_webhook_secret=r.secret("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET, "1-256 of A-Z, a-z, 0-9, _ and -"),
            telegram_webhook_listen=r.text("TELEGRAM_WEBHOOK_LISTEN") or "0.0.0.0",
            telegram_webhook_port=r.number("TELEGRAM_WEBHOOK_PORT", 8443, int, minimum=1, maximum=65535),
            telegram_api_base_url=r.url("TELEGRAM_API_BASE_URL"),
            telegram_rate_limit=r.flag("INFLUBOT_TELEGRAM_RATE_LIMIT", default=True),
            outbox_lease_seconds=r.number("INFLUBOT_OUTBOX_LEASE_SECONDS", 30.0, float, minimum=1),
            webhook_relay=r.flag("INFLUBOT_WEBHOOK_RELAY", default=True),
            claim_timeout_minutes=r.number("INFLUBOT_CLAIM_TIMEOUT_MINUTES", 15.0, float, minimum=0),
            web_https=r.flag("INFLUBOT_WEB_HTTPS"),
            web_session_hours=r.number("INFLUBOT_WEB_SESSION_HOURS", 12.0, float, minimum=0.01),
            discord_token=r.secret("DISCORD_BOT_TOKEN", DISCORD_TOKEN, "the bot token from the Developer Portal"),
            discord_guild_id=r.pattern("DISCORD_GUILD_ID", SNOWFLAKE, "a numeric id"),
            discord_mod_channel_id=r.pattern("DISCORD_MOD_CHANNEL_ID", SNOWFLAKE, "a numeric id"),
            discord_mod_role_id=r.pattern("DISCORD_MOD_ROLE_ID", SNOWFLAKE, "a numeric id"),
            discord_message_content=r.flag("DISCORD_MESSAGE_CONTENT"),
        )


class _Reader:
    """Reads and checks one variable at a time; every problem becomes a SettingsError naming the variable."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def text(self, name: str) -> str:
        return (self.env.get(name) or "").strip()

    @staticmethod
    def fail(name: str, why: str, value: str | None = None) -> SettingsError:
        shown = f" (got {value[:40]!r})" if value is not None else ""
        return SettingsError(f"{name} must be {why}{shown}")

    def number(self, name: str, default: T, kind: Callable[[str], T], minimum: float, maximum: float | None = None) -> T:
        raw = self.text(name)
        if not raw:
            return default
        what = "a whole number" if kind is int else "a number"
        bounds = f" from {minimum:g} to {maximum:g}" if maximum is not None else f" of at least {minimum:g}"
        try:
            value = kind(raw)
        except ValueError:
            raise self.fail(name, what + bounds, raw) from None
        if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):  # type: ignore[arg-type,operator]
            raise self.fail(name, what + bounds, raw)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.text(name).lower()
        if raw not in TRUE + FALSE:
            raise self.fail(name, "1 or 0 (also true/false, yes/no, on/off)", raw)
        return raw in TRUE if raw else default

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        raw = self.text(name).lower() or options[0]
        if raw not in options:
            raise self.fail(name, " or ".join(options), raw)
        return raw

    def pattern(self, name: str, regex: re.Pattern[str], why: str) -> str | None:
        raw = self.text(name)
        if raw and not regex.fullmatch(raw):
            raise self.fail(name, why, raw)
        return raw or None

    def secret(self, name: str, regex: re.Pattern[str], why: str) -> str | None:
        raw = self.text(name)
        if raw and not regex.fullmatch(raw):
            raise self.fail(name, why + "; the value is not shown")
        return raw or None

    def url(self, name: str) -> str | None:
        raw = self.text(name)
        if not raw:
            return None
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise self.fail(name, "an http:// or https:// address")  # not shown: an address may hold a password
        return raw

    def ids(self, name: str) -> frozenset[str]:
        parts = [x.strip() for x in self.text(name).split(",") if x.strip()]
        bad = [x for x in parts if not SNOWFLAKE.fullmatch(x)]
        if bad:
            raise self.fail(name, "comma-separated numeric user ids", bad[0])
        return frozenset(parts)
