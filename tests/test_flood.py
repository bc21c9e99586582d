"""Flood control (bot/flood.py): over the limit messages wait and are merged, never dropped; crisis first.

The unit tests drive the gate with a fake clock whose `sleep` moves time; the Telegram tests go through the real
adapter (python-telegram-bot's `process_update`, a recording Bot API) and read the desk's transcript.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram import Update

from bot.adapters.telegram_adapter import adapter_of, build_application
from bot.core.types import Inbound
from bot.flood import MERGE_CHARS, PRUNE_EVERY, FloodGate
from tests.conftest import Clock
from tests.test_telegram_adapter import RecordingRequest, callback, message

LIMIT, SECONDS = 8, 10.0


class Harness:
    """A gate on a fake clock, recording what gets handled and who was told to wait."""

    def __init__(self, urgency=lambda inbound: None):
        self.clock = Clock()
        self.slept: list[float] = []
        self.handled: list[Inbound] = []
        self.told: list[tuple[str, bool]] = []
        self.gate = FloodGate(LIMIT, SECONDS, urgency, clock=self.clock, sleep=self.sleep)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0.02)  # long enough for the test to act while the gate waits; then the time has passed
        self.slept.append(seconds)
        self.clock.advance(seconds)

    async def handle(self, inbound: Inbound) -> None:
        self.handled.append(inbound)

    def submit(self, text: str, user: str = "tg:1", kind: str = "text", **kw):
        async def on_wait(first: bool, text=text) -> None:
            self.told.append((text, first))

        inbound = Inbound(user=user, text=text, kind=kind, payload=text if kind == "choice" else "", channel="telegram")
        return self.gate.submit(inbound, self.handle, on_wait=on_wait, **kw)

    def texts(self) -> list[str]:
        return [i.text for i in self.handled]

    def lines(self) -> list[str]:
        return [line for i in self.handled for line in i.text.split("\n")]


async def test_under_the_limit_nothing_waits():
    h = Harness()
    for i in range(LIMIT):
        await h.submit(f"m{i}")
        h.clock.advance(0.1)
    assert h.texts() == [f"m{i}" for i in range(LIMIT)] and not h.slept and not h.told


async def test_a_burst_waits_is_merged_in_order_and_loses_nothing():
    h = Harness()
    await asyncio.gather(*(h.submit(f"bericht {i}") for i in range(20)))
    assert h.lines() == [f"bericht {i}" for i in range(20)], "every line handled, in order"
    assert len(h.handled) == LIMIT + 1, "the 12 that waited were answered as one"
    assert h.slept and sum(h.slept) == pytest.approx(SECONDS)
    assert [first for _, first in h.told] == [True] + [False] * 11, "told once; the others only acknowledged"


async def test_a_crisis_never_waits_and_goes_before_the_waiting_ones():
    h = Harness(urgency=lambda inbound: "crisis" if "leven" in inbound.text else None)
    waiting = [h.submit(f"m{i}") for i in range(LIMIT + 3)]
    await asyncio.sleep(0)
    await h.submit("ik wil niet meer leven")
    assert h.texts()[-1] == "ik wil niet meer leven" and len(h.handled) == LIMIT + 1 and not h.slept
    await asyncio.gather(*waiting)
    assert h.lines()[LIMIT + 1 :] == [f"m{i}" for i in range(LIMIT, LIMIT + 3)]


async def test_a_request_for_a_human_takes_the_waiting_messages_along_at_once():
    h = Harness(urgency=lambda inbound: "human" if inbound.text == "/mens" else None)
    burst = [h.submit(f"m{i}") for i in range(LIMIT + 2)]
    await asyncio.sleep(0)
    await asyncio.gather(*burst, h.submit("/mens"))
    assert h.texts()[-2:] == [f"m{LIMIT}\nm{LIMIT + 1}", "/mens"], "in order, the waiting ones first"
    assert sum(h.slept) < SECONDS, "nobody waited the window out"


async def test_a_calm_backlog_after_a_restart_is_not_a_flood():
    h = Harness()
    start = h.clock() - 600  # twelve messages 1.5 s apart, written while the bot was down
    await asyncio.gather(*(h.submit(f"b{i}", sent_at=start + 1.5 * i) for i in range(12)))
    assert h.texts() == [f"b{i}" for i in range(12)] and not h.slept and not h.told


async def test_the_same_backlog_counted_at_handling_time_would_be_one():
    """The control experiment: without message times the backlog above is a burst (what D1 saw)."""
    h = Harness()
    await asyncio.gather(*(h.submit(f"b{i}") for i in range(12)))
    assert h.slept and len(h.handled) == LIMIT + 1


async def test_commands_and_buttons_are_never_merged():
    h = Harness()
    items = [h.submit(f"m{i}") for i in range(LIMIT)]
    items += [h.submit("a"), h.submit("/quiz"), h.submit("b"), h.submit("ans:x:1", kind="choice"), h.submit("c"), h.submit("d")]
    await asyncio.gather(*items)
    assert h.texts()[LIMIT:] == ["a", "/quiz", "b", "ans:x:1", "c\nd"]


async def test_merges_stay_within_one_conversation_and_the_reading_limit():
    h = Harness()
    items = [h.submit(f"m{i}", conversation="private") for i in range(LIMIT)]
    items += [
        h.submit("p1", conversation="private"),
        h.submit("g1", conversation="group"),
        h.submit("p2", conversation="private"),
    ]
    long = "x" * (MERGE_CHARS - 3)
    items += [h.submit(long, conversation="private"), h.submit("tail", conversation="private")]
    await asyncio.gather(*items)
    assert h.texts()[LIMIT:] == ["p1", "g1", f"p2\n{long}", "tail"]
    assert all(len(t) <= MERGE_CHARS + 10 for t in h.texts())


async def test_users_do_not_wait_for_each_other():
    h = Harness()
    burst = [h.submit(f"a{i}", user="tg:a") for i in range(LIMIT + 4)]
    await asyncio.sleep(0)
    await h.submit("hallo", user="tg:b")
    assert "hallo" in h.texts() and not any(t.startswith(f"a{LIMIT}") for t in h.texts())
    await asyncio.gather(*burst)


async def test_a_failing_handler_does_not_stall_the_queue(caplog):
    h = Harness()

    async def boom(inbound: Inbound) -> None:
        raise RuntimeError("geheime tekst van de gebruiker")

    first = h.gate.submit(Inbound(user="tg:1", text="x"), boom)
    later = [h.submit(f"m{i}") for i in range(LIMIT + 1)]
    await asyncio.gather(first, *later)
    assert h.lines() == [f"m{i}" for i in range(LIMIT + 1)]
    assert "RuntimeError" in caplog.text and "geheime" not in caplog.text


async def test_an_urgency_check_that_fails_counts_as_a_crisis():
    def broken(inbound: Inbound):
        raise ValueError("boom")

    h = Harness(urgency=broken)
    waiting = [h.submit(f"m{i}") for i in range(LIMIT + 1)]
    assert len(h.handled) == 0
    await asyncio.gather(*waiting)
    assert len(h.lines()) == LIMIT + 1 and not h.slept, "when unsure, nothing is held back"


async def test_idle_users_are_forgotten():
    h = Harness()
    for i in range(PRUNE_EVERY - 1):
        await h.submit("hoi", user=f"tg:{i}")
    h.clock.advance(SECONDS * 2)
    await h.submit("hoi", user="tg:last")
    assert len(h.gate.users) <= 1


# -- through the real Telegram adapter --------------------------------------------------------------


@pytest.fixture
async def tg(service, clock):
    from bot.config import Settings

    settings = Settings(db_path=service.settings.db_path, telegram_token="123456:TESTTOKEN")
    rec = RecordingRequest()
    app = build_application(service, settings, request=rec)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)
        await asyncio.sleep(0)

    adapter_of(app).gate.sleep = sleep
    async with app:
        yield app, rec, slept


def dated(text: str, at: float) -> dict:
    update = message(text)
    update["message"]["date"] = int(at)
    return update


async def feed_all(app, updates: list[dict]) -> None:
    await asyncio.gather(*(app.process_update(Update.de_json(u, app.bot)) for u in updates))


async def _case(app, service, clock) -> int:
    for update in (message("/mens"), callback("human:intake"), message("vraag over mijn contract")):
        clock.advance(3)
        await app.process_update(Update.de_json(update, app.bot))
    case_id = service.store.get_state("tg:42").case_id
    assert case_id is not None
    return case_id


def transcript(service, case_id: int) -> list[str]:
    _, rows = service.desk.show("console:test", case_id)
    return [r["text"] for r in rows if r["author"] == "user"]


async def test_telegram_burst_in_a_case_reaches_the_moderator_whole(tg, service, clock):
    """reliability.md D1: 20 messages in ~1 s inside a case; 12 were silently dropped."""
    app, rec, slept = tg
    case_id = await _case(app, service, clock)
    now = clock()
    await feed_all(app, [dated(f"U-{i:02d} voor de moderator", now) for i in range(20)])
    lines = [line for text in transcript(service, case_id) for line in text.split("\n")]
    assert [line for line in lines if line.startswith("U-")] == [f"U-{i:02d} voor de moderator" for i in range(20)]
    assert slept, "the burst waited"
    assert sum(service.engine.t("slow_down", "nl") in t for t in rec.texts()) == 1


async def test_telegram_calm_backlog_after_downtime_is_handled_at_once(tg, service, clock):
    """reliability.md D1: 12 messages written 1.5 s apart while the bot was down; 4 were dropped after restart."""
    app, rec, slept = tg
    case_id = await _case(app, service, clock)
    clock.advance(300)
    start = clock() - 120
    await feed_all(app, [dated(f"B-{i:02d}", start + 1.5 * i) for i in range(12)])
    assert [t for t in transcript(service, case_id) if t.startswith("B-")] == [f"B-{i:02d}" for i in range(12)]
    assert not slept and not any(service.engine.t("slow_down", "nl") in t for t in rec.texts())


async def test_telegram_crisis_in_a_flood_gets_the_full_referral_first(tg, service, clock):
    app, rec, slept = tg
    now = clock()
    spam = [dated(f"spam {i}", now) for i in range(30)]
    crisis = dated("ik wil niet meer leven", now)
    spam_task = asyncio.ensure_future(feed_all(app, spam))
    await asyncio.sleep(0)
    await app.process_update(Update.de_json(crisis, app.bot))
    assert not spam_task.done(), "the crisis was answered while the spam still waited"
    referral = [t for t in rec.texts() if "1813" in t]
    assert referral and "112" in referral[0]
    await spam_task


def test_flood_control_is_not_on_the_console(tmp_path):
    """chat --json has no flood limit: a scripted exam of 21 lines is answered line by line (walkthrough §15)."""
    import json
    import os
    import subprocess
    import sys

    lines = ["/examen"] + ["a"] * 20 + ["/voortgang"]
    env = {**os.environ, "INFLUBOT_DB": str(tmp_path / "x.db"), "INFLUBOT_FLOOD_MESSAGES": "2"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--json"], input="\n".join(lines) + "\n", capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines) and all(o["text"] for o in out)
    assert "20" in out[-2]["text"] and "/20" in out[-2]["text"], "the exam ended with a score"
    assert time.monotonic() - started < 60


def test_d1_console_reproduction_every_line_reaches_the_case(tmp_path):
    """reliability.md D1, its console reproduction: 7 of 12 lines typed to a moderator never reached the case."""
    import os
    import subprocess
    import sys

    lines = ["/mens", "/mens", "ik wil een moderator"] + [f"bericht {i} voor de moderator" for i in range(1, 13)]
    env = {**os.environ, "INFLUBOT_DB": str(tmp_path / "f.db")}
    chat = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--json"], input="\n".join(lines) + "\n", capture_output=True, text=True, env=env
    )
    assert all('"text": ""' not in line for line in chat.stdout.splitlines())
    show = subprocess.run([sys.executable, "-m", "bot", "desk", "show", "1"], capture_output=True, text=True, env=env).stdout
    assert all(f"bericht {i} voor de moderator" in show for i in range(1, 13)), show


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("ik wil niet meer leven", "text", "crisis"),
        ("je veux mourir", "text", "crisis"),
        ("/mens", "text", "human"),
        ("/human@influbot", "text", "human"),
        ("ik wil met een mens praten", "text", "human"),
        ("human:intake", "choice", "human"),
        ("wat kost het certificaat?", "text", None),
        ("/quiz", "text", None),
        ("ans:x:1", "choice", None),
    ],
)
def test_what_counts_as_urgent(service, text, kind, expected):
    inbound = Inbound(user="tg:1", text=text if kind == "text" else "", kind=kind, payload=text if kind == "choice" else "")
    assert service.urgency(inbound) == expected


async def test_under_the_limit_a_crisis_keeps_its_place():
    """Jumping the queue is for a crisis that would wait; a few quick messages are answered in the order written."""
    h = Harness(urgency=lambda inbound: "crisis" if "leven" in inbound.text else None)
    await asyncio.gather(h.submit("/start"), h.submit("wat kost het?"), h.submit("ik wil niet meer leven"))
    assert h.texts() == ["/start", "wat kost het?", "ik wil niet meer leven"]


async def test_repeated_requests_for_a_human_do_not_switch_the_limit_off():
    h = Harness(urgency=lambda inbound: "human" if "mens" in inbound.text else None)
    await asyncio.gather(*(h.submit(f"ik wil een mens {i}") for i in range(30)))
    assert h.slept, "after the first one went ahead, the others waited"
    assert [line for t in h.texts() for line in t.split("\n")] == [f"ik wil een mens {i}" for i in range(30)]
