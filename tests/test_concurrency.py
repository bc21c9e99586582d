"""Per-user serialization and two channels in one process, on SQLite and on PostgreSQL.

The races are forced, not hoped for: the user's message is paused inside `Engine.handle` (after the state was
read, before it is written) while a moderator acts on the same user from another thread or process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import Chat
from tests.test_desk import MOD, open_case


class Pause:
    """Wraps engine.handle: the message with `text` stops inside handle until `resume` is set."""

    def __init__(self, service, text: str):
        self.real, self.text = service.engine.handle, text
        self.inside, self.resume = threading.Event(), threading.Event()
        service.engine.handle = self

    def __call__(self, inbound, state):
        out = self.real(inbound, state)
        if inbound.text == self.text:
            self.inside.set()
            assert self.resume.wait(30)
        return out


def paused_message(service, chat: Chat, text: str) -> tuple[Pause, threading.Thread]:
    pause = Pause(service, text)
    thread = threading.Thread(target=chat.say, args=(text,))
    thread.start()
    assert pause.inside.wait(30), "the message reached the engine"
    return pause, thread


def cases_of(service, user: str) -> list[dict]:
    return [c for c in service.store.cases.list(include_closed=True) if c["user"] == user]


@pytest.mark.parametrize("action", ["close", "block"])
def test_a_moderator_close_is_never_undone_by_a_message_being_handled(any_service, action):
    service = any_service
    chat = Chat(service, "tg:77")
    case_id = open_case(chat)
    pause, handling = paused_message(service, chat, "nog een vraag")
    if action == "close":
        desk_action = threading.Thread(target=service.desk.close, args=(MOD, case_id))
    else:
        desk_action = threading.Thread(target=service.desk.block, args=(MOD, chat.user, 3600))
    desk_action.start()
    desk_action.join(1.0)
    finished_while_paused = not desk_action.is_alive()
    pause.resume.set()
    handling.join(30)
    desk_action.join(30)
    assert not finished_while_paused, "the desk action waited for the user's transaction"
    assert service.store.cases.get(case_id)["status"] == "closed"
    assert chat.state.case_id is None, "the close stuck"
    assert [m["text"] for m in service.store.cases.messages(case_id) if m["author"] == "user"][-1] == "nog een vraag"
    if action == "close":
        assert chat.say("wat kost het certificaat?")[0].faq_id == "cert_price", "the bot answers again"
    assert len(cases_of(service, chat.user)) == 1, "no ghost follow-up case"


def test_a_reopen_sticks_while_a_message_is_being_handled(any_service):
    service = any_service
    chat = Chat(service, "tg:78")
    case_id = open_case(chat)
    service.desk.close(MOD, case_id)
    pause, handling = paused_message(service, chat, "wat kost het certificaat?")
    reopen = threading.Thread(target=service.desk.reopen, args=(MOD, case_id))
    reopen.start()
    reopen.join(1.0)
    finished_while_paused = not reopen.is_alive()
    pause.resume.set()
    handling.join(30)
    reopen.join(30)
    assert not finished_while_paused
    assert chat.state.case_id == case_id and service.store.cases.get(case_id)["status"] == "claimed"
    before = len(service.store.cases.messages(case_id))
    chat.say("ben je daar?")
    assert len(service.store.cases.messages(case_id)) == before + 1, "the next message goes to the reopened case"


def _waiting_for_a_lock(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0])


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_desk_close_from_another_process_waits_for_the_message(any_service):
    """`influbot desk close` in its own process, on PostgreSQL: it waits on the user's lock, then wins."""
    service = any_service
    url = service.store.url
    chat = Chat(service, "tg:79")
    case_id = open_case(chat)
    pause, handling = paused_message(service, chat, "nog een vraag")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "desk", "close", str(case_id), "--db", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "INFLUBOT_DB": url},
    )
    deadline = time.time() + 60
    while proc.poll() is None and not _waiting_for_a_lock(url) and time.time() < deadline:
        time.sleep(0.05)
    blocked = proc.poll() is None
    pause.resume.set()
    handling.join(30)
    out, err = proc.communicate(timeout=60)
    assert blocked, f"the other process did not wait: {out} {err}"
    assert proc.returncode == 0 and f"closed #{case_id}" in out, err
    assert chat.state.case_id is None and service.store.cases.get(case_id)["status"] == "closed"


async def test_telegram_and_discord_in_one_process(any_service, clock):
    """12 Telegram and 24 Discord users do a chapter quiz at the same time on one service (one database).
    (Telegram's sends go through PTB's rate limiter, 30 a second, as in production: that sets the pace.)"""
    from dataclasses import replace

    from telegram import Update

    from bot.adapters import discord_adapter as dc
    from bot.adapters.telegram_adapter import adapter_of, build_application
    from bot.core import quiz
    from tests.test_discord_adapter import Fake, member, press
    from tests.test_telegram_adapter import RecordingRequest, callback, message

    service = any_service
    settings = replace(service.settings, telegram_token="123456:TESTTOKEN")
    rec = RecordingRequest()
    app = build_application(service, settings, request=rec)
    discord_adapter = dc.DiscordAdapter(service, settings)
    quiz_cmd = dc.commands_by_name(discord_adapter)["quiz"]

    def current(key: str):
        state = service.store.users.get(key)
        return None if state.quiz is None else quiz.current(service.engine.content, state.quiz, state.lang)

    async def telegram_user(uid: int) -> None:
        await app.process_update(Update.de_json(message("/quiz", user=uid), app.bot))
        await app.process_update(Update.de_json(callback("quiz:1", user=uid), app.bot))
        while (q := await asyncio.to_thread(current, f"tg:{uid}")) is not None:
            clock.advance(2)
            await app.process_update(Update.de_json(callback(q.payloads[q.correct], user=uid), app.bot))

    async def discord_user(uid: int) -> None:
        user = member(uid)
        await quiz_cmd.callback(Fake(discord_adapter, user), hoofdstuk="1")
        while (q := await asyncio.to_thread(current, f"dc:{uid}")) is not None:
            clock.advance(2)
            await press(discord_adapter, user, f"ib:{uid}:{q.payloads[q.correct]}")

    async with app:
        results = await asyncio.gather(
            *(telegram_user(100 + i) for i in range(12)), *(discord_user(200 + i) for i in range(24)), return_exceptions=True
        )
        failed = set(adapter_of(app).failed)
    assert [r for r in results if r is not None] == [] and failed == set()
    for key in [f"tg:{100 + i}" for i in range(12)] + [f"dc:{200 + i}" for i in range(24)]:
        state = service.store.users.get(key)
        assert state.quiz is None and state.best.get("1") == 100, (key, state.best)
