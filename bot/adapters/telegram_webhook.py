"""Telegram webhooks as an ASGI app (PTB `Application` with `updater=None`) on uvicorn, with N worker processes.

Each POST is handled to the end (deduplicated on `update_id`, effects and queued reply committed in one
transaction) before it is answered: 200 after the commit, 500 if handling failed, so Telegram sends it again.
Every worker runs the same relay; the outbox lease makes each row go out once. Workers share one database,
which must be PostgreSQL when there is more than one (`INFLUBOT_DB=postgresql://...`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from telegram import Update

from bot.config import Settings
from bot.offload import offload

log = logging.getLogger(__name__)

SECRET_HEADER = b"x-telegram-bot-api-secret-token"
MAX_BODY = 1 << 20

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def webhook_path(settings: Settings) -> str:
    path = urlparse(settings.telegram_webhook_url or "").path
    return path if path.startswith("/") and len(path) > 1 else "/telegram"


def webhook_secret(settings: Settings) -> str | None:
    return getattr(settings, "telegram_webhook_secret", None) or os.environ.get("TELEGRAM_WEBHOOK_SECRET") or None


def ensure_secret(settings: Settings) -> str:
    """The webhook never runs without a secret: one is generated (and handed to the workers) if none is set."""
    from bot.adapters import telegram_adapter

    secret = webhook_secret(settings) or telegram_adapter.webhook_secret(settings)
    os.environ["TELEGRAM_WEBHOOK_SECRET"] = secret  # the worker processes read it from their environment
    return secret


def surfaces(settings: Settings) -> tuple[str, ...]:
    found = []
    if settings.telegram_mod_chat_id:
        found.append("mod:telegram")
    if settings.discord_mod_channel_id:
        found.append("mod:discord")
    return tuple(found)


class WebhookApp:
    """The ASGI application of one worker."""

    def __init__(self, settings: Settings, service: Any = None, application: Any = None, relay: bool = True):
        self.settings = settings
        self.service = service
        self.app = application
        self.path = webhook_path(settings)
        secret = webhook_secret(settings)
        self.secret = secret.encode() if secret else None
        self.run_relay = relay
        self._stop = asyncio.Event()
        self._relay: asyncio.Task[None] | None = None
        self._own_service = service is None

    async def startup(self) -> None:
        from bot.adapters.telegram_adapter import adapter_of, build_application
        from bot.service import Service

        if self.service is None:
            self.service = await offload(Service.create, self.settings, surfaces=surfaces(self.settings), purge=False)
        if self.app is None:
            self.app = build_application(self.service, self.settings)
            await self.app.initialize()
            await self.app.start()
        adapter = adapter_of(self.app)
        adapter.username, adapter.bot_id = self.app.bot.username, self.app.bot.id
        if self.run_relay:
            self._relay = asyncio.create_task(adapter.relay_for(self.app.bot).run_forever(self._stop))

    async def shutdown(self) -> None:
        self._stop.set()
        if self._relay is not None:
            with contextlib.suppress(Exception):
                await self._relay
        if self._own_service and self.app is not None:
            with contextlib.suppress(Exception):
                await self.app.stop()
                await self.app.shutdown()
            self.service.store.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            status, body = await self._http(scope, receive)
            await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001 - tell uvicorn, which stops the worker
                    log.exception("webhook worker could not start")
                    await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        if scope["method"] == "GET" and scope["path"] == "/healthz":
            return 200, b"ok"
        if scope["path"] != self.path:
            return 404, b"not found"
        if scope["method"] != "POST":
            return 405, b"POST only"
        headers = dict(scope.get("headers") or [])
        if self.secret is None or not hmac.compare_digest(headers.get(SECRET_HEADER, b""), self.secret):
            return 403, b"forbidden"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                return 413, b"too large"
            if not message.get("more_body"):
                break
        try:
            update = Update.de_json(json.loads(body), self.app.bot)
        except (ValueError, TypeError, KeyError):
            return 400, b"not an update"
        from bot.adapters.telegram_adapter import adapter_of

        adapter = adapter_of(self.app)
        await self.app.process_update(update)
        if update.update_id in adapter.failed:
            adapter.failed.discard(update.update_id)
            return 500, b"not handled; send it again"
        return 200, b"ok"


def create_app() -> WebhookApp:
    """uvicorn's app factory (one per worker process)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    return WebhookApp(settings, relay=settings.webhook_relay)


def listen(settings: Settings, host: str | None = None, port: int | None = None) -> tuple[str, int]:
    return host or settings.telegram_webhook_listen, port or settings.telegram_webhook_port


async def register(settings: Settings, secret: str) -> None:
    """setWebhook and the command menus, once, before the workers start."""
    from bot.adapters.telegram_adapter import UPDATES, _register_commands, bare_application
    from bot.content import load_content
    from bot.core.i18n import Strings

    app = bare_application(settings)
    async with app:
        if settings.telegram_webhook_url:
            await app.bot.set_webhook(settings.telegram_webhook_url, secret_token=secret, allowed_updates=UPDATES)
        await _register_commands(app, Strings(load_content().ui))


def serve_workers(settings: Settings, workers: int = 1, host: str | None = None, port: int | None = None) -> int:
    """`influbot run telegram --webhook --workers N`: uvicorn with N processes (a dead worker is restarted)."""
    import uvicorn

    if not settings.telegram_token:
        print("influbot: TELEGRAM_BOT_TOKEN is not set.", file=sys.stderr)
        return 2
    if workers > 1 and not str(settings.db_path).startswith(("postgresql://", "postgres://")):
        print("influbot: --workers > 1 needs a shared PostgreSQL: set INFLUBOT_DB=postgresql://...", file=sys.stderr)
        return 2
    secret = ensure_secret(settings)
    asyncio.run(register(settings, secret))
    from bot.storage import open_storage

    store = open_storage(settings.db_path)  # migrate once here, before the workers start
    store.close()
    host, port = listen(settings, host, port)
    uvicorn.run(
        "bot.adapters.telegram_webhook:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


class _InlineServer:
    """uvicorn in the current event loop, stopped by the runner's shared stop signal (no signal handlers)."""

    def __init__(self, app: WebhookApp, host: str, port: int):
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # type: ignore[override]
                yield

        config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_level="warning", access_log=False)
        self.server = Server(config)

    async def run(self, stop: asyncio.Event, ready: Callable[[], Awaitable[None]]) -> None:
        """Serve until `stop`; `ready` runs once the socket listens (so setWebhook never points at nothing)."""
        task = asyncio.create_task(self.server.serve())
        while not self.server.started and not task.done():
            await asyncio.sleep(0.02)
        if not task.done():
            await ready()
            await stop.wait()
            self.server.should_exit = True
        await task


async def serve_inline(application: Any, service: Any, settings: Settings, stop: asyncio.Event) -> None:
    """`influbot run` with TELEGRAM_WEBHOOK_URL: one process, webhook served beside the other channels."""
    from bot.adapters.telegram_adapter import UPDATES

    secret = ensure_secret(settings)
    app = WebhookApp(settings, service=service, application=application)
    host, port = listen(settings)

    async def register() -> None:
        await application.bot.set_webhook(settings.telegram_webhook_url, secret_token=secret, allowed_updates=UPDATES)

    await _InlineServer(app, host, port).run(stop, register)
