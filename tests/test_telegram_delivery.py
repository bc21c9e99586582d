"""At-least-once in, exactly-once effect on Telegram: dedup on update_id for every update type, polling that
confirms only handled updates, and a webhook that answers 200 only after the commit."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from telegram import Update

from bot.adapters.telegram_adapter import adapter_of, build_application
from bot.adapters.telegram_webhook import WebhookApp
from tests.test_telegram_adapter import USER, RecordingRequest, callback, message, poll_answer


@pytest.fixture
def settings(service):
    from dataclasses import replace

    return replace(service.settings, telegram_token="123456:TESTTOKEN", telegram_webhook_url="https://bot.example/hook")


@pytest.fixture
async def app(service, settings):
    application = build_application(service, settings, request=RecordingRequest())
    async with application:
        yield application


def rec(app) -> RecordingRequest:
    return app.bot.request  # type: ignore[return-value]


async def feed(app, raw: dict) -> None:
    await app.process_update(Update.de_json(raw, app.bot))


def user_texts(app) -> list[str]:
    return [p["text"] for n, p in rec(app).calls if n == "sendMessage" and int(p["chat_id"]) == USER]


async def test_a_redelivered_update_of_any_type_has_one_effect(app, service, clock):
    first = message("wat kost het certificaat?")
    await feed(app, first)
    await feed(app, first)
    assert sum("49" in t for t in user_texts(app)) == 1
    quiz = callback("quiz:1")
    await feed(app, quiz)
    polls = len([c for c in rec(app).calls if c[0] == "sendPoll"])
    await feed(app, quiz)
    assert len([c for c in rec(app).calls if c[0] == "sendPoll"]) == polls, "a repeated callback does not restart the quiz"
    poll_id = next(iter(adapter_of(app).polls))
    answer = poll_answer(poll_id, 0)
    clock.advance(5)
    await feed(app, answer)
    await feed(app, answer)
    assert len(service.store.users.get(f"tg:{USER}").quiz.answers) == 1


def failing_once(service, update: dict) -> None:
    """The database is away while this update is handled (once), as an outage looks from inside the service."""
    import sqlite3

    real, failed = service.store.dedup.seen, []

    def seen(user, message_id):
        if message_id == f"u{update['update_id']}" and not failed:
            failed.append(message_id)
            raise sqlite3.OperationalError("database is locked")
        return real(user, message_id)

    service.store.dedup.seen = seen


async def test_polling_confirms_only_what_was_handled(app, service, clock):
    adapter = adapter_of(app)
    batch = [message("/start"), message("tweede"), message("wat kost het certificaat?", user=43)]
    failing_once(service, batch[1])
    updates = [Update.de_json(u, app.bot) for u in batch]
    offset = await adapter.handle_batch(app, updates)
    assert offset == batch[1]["update_id"], "the failed update (and what follows it) is fetched again"
    clock.advance(5)
    again = await adapter.handle_batch(app, updates[1:])
    assert again == batch[2]["update_id"] + 1
    state = service.store.users.get(f"tg:{USER}")
    assert state.greeted
    assert sum("49" in p["text"] for n, p in rec(app).calls if n == "sendMessage" and int(p["chat_id"]) == 43) == 1


async def test_poll_loop_asks_for_the_next_offset_after_the_replies_are_sent(service, settings):
    request = RecordingRequest()
    pending = [message("/start"), message("wat kost het certificaat?")]
    stop = asyncio.Event()
    base = request.result

    def result(name, params):
        if name == "getUpdates":
            offset = int(params.get("offset") or 0)
            if offset > pending[-1]["update_id"]:
                stop.set()
            return [u for u in pending if u["update_id"] >= offset]
        return base(name, params)

    request.result = result
    app = build_application(service, settings, request=request)
    async with app:
        await asyncio.wait_for(adapter_of(app).poll(app, stop), 30)
    names = [(n, p.get("offset")) for n, p in request.calls if n in ("getUpdates", "sendMessage")]
    confirm = names.index(("getUpdates", pending[-1]["update_id"] + 1))
    answered = max(i for i, (n, _) in enumerate(names) if n == "sendMessage")
    assert answered < confirm, names


@pytest.fixture
async def webhook(app, service, settings, monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s3cret")
    hook = WebhookApp(settings, service=service, application=app, relay=False)
    await hook.startup()
    transport = httpx.ASGITransport(app=hook)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
    await hook.shutdown()


async def post(client, raw, secret="s3cret"):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return await client.post("/hook", content=json.dumps(raw), headers=headers)


async def test_webhook_refuses_requests_without_the_secret(webhook, app):
    assert (await post(webhook, message("/start"), secret=None)).status_code == 403
    assert (await post(webhook, message("/start"), secret="wrong")).status_code == 403
    assert user_texts(app) == []
    assert (
        await webhook.post("/hook", content="{not json", headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
    ).status_code == 400


async def test_webhook_answers_200_after_the_reply_and_500_when_not_handled(webhook, app, service, clock):
    ok = await post(webhook, message("wat kost het certificaat?"))
    assert ok.status_code == 200 and any("49" in t for t in user_texts(app)), "handled and answered before the 200"
    update = message("tweede")
    failing_once(service, update)
    assert (await post(webhook, update)).status_code == 500, "Telegram will send it again"
    clock.advance(5)
    assert (await post(webhook, update)).status_code == 200
    assert (await post(webhook, update)).status_code == 200, "a third delivery is a duplicate: 200, no effect"
    version = service.store.users.version(f"tg:{USER}")
    assert (await post(webhook, update)).status_code == 200
    assert service.store.users.version(f"tg:{USER}") == version
