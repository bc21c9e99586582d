"""The moderator desk: the whole lifecycle, handoff gate, outbox, claims, blocks and retention (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from bot.core.types import HandoffNotice, Inbound, QuizQuestion
from bot.desk import NotAllowed
from tests.conftest import Chat

MOD = "console:mod"


@pytest.fixture
def service(any_service):
    return any_service


def open_case(chat: Chat) -> int:
    reply = chat.say("ik wil iemand spreken")
    assert any(c.payload == "human:intake" for p in reply for c in getattr(p, "options", ()))
    chat.press("human:intake")
    reply = chat.say("ik heb een vraag over mijn contract met een bureau")
    assert any(isinstance(p, HandoffNotice) and p.status == "opened" for p in reply)
    return chat.state.case_id


def test_lifecycle_deflect_intake_reply_close(chat, service):
    case_id = open_case(chat)
    rows = service.desk.list(MOD)
    assert rows[0]["id"] == case_id and rows[0]["status"] == "waiting"
    service.desk.reply(MOD, case_id, "Hoi, ik help je verder")
    delivered = service.desk.due("console", chat.user)
    assert "Hoi, ik help je verder" in delivered[0]["payload"]["text"]
    assert "Moderator" in delivered[0]["payload"]["text"] and MOD not in delivered[0]["payload"]["text"]
    service.desk.close(MOD, case_id)
    assert chat.state.case_id is None
    assert any("afgesloten" in r["payload"]["text"] for r in service.desk.due("console", chat.user))
    assert chat.say("wat kost het certificaat?")[0].faq_id == "cert_price"


def test_deflection_can_answer_instead(chat):
    reply = chat.say("/mens")
    faq_choice = next(c.payload for p in reply for c in getattr(p, "options", ()) if c.payload.startswith("faq:"))
    answered = chat.press(faq_choice)
    assert answered[0].faq_id == faq_choice[4:]
    assert chat.state.case_id is None and chat.state.flow is None


@pytest.mark.parametrize("inbound", ["text", "command", "button", "quiz_answer", "number"])
def test_handoff_gate_relays_every_input_kind(chat, service, inbound):
    chat.say("/quiz")
    chat.press("quiz:1")
    chat.say("/stop")
    case_id = open_case(chat)
    before = len(service.desk.show(MOD, case_id)[1])
    if inbound == "text":
        reply = chat.say("wat kost het certificaat?")
    elif inbound == "command":
        reply = chat.say("/quiz")
    elif inbound == "button":
        reply = chat.press("faq:cert_price")
    elif inbound == "quiz_answer":
        reply = chat.press("ans:ch1_q01:0")
    else:
        reply = chat.say("2")
    assert not any(getattr(p, "faq_id", None) or isinstance(p, QuizQuestion) for p in reply), "the bot stays quiet"
    assert len(service.desk.show(MOD, case_id)[1]) == before + 1


def test_user_can_stop_the_handoff(chat, service):
    case_id = open_case(chat)
    chat.say("/stop")
    assert chat.state.case_id is None
    assert service.desk.show(MOD, case_id)[0]["status"] == "closed"


def test_outbox_retries_with_backoff_and_survives_restart(service, chat, clock):
    from bot.desk import Desk
    from bot.storage import open_storage

    case_id = open_case(chat)
    service.desk.reply(MOD, case_id, "eerste antwoord")
    row = service.desk.due("console", chat.user)[0]
    service.desk.failed(row["id"], "network down")
    assert service.desk.due("console", chat.user) == []
    clock.advance(3)
    # "restart": a fresh store and desk on the same database still has the pending reply, once
    store = open_storage(service.store.url, clock=clock)
    desk = Desk(store, service.engine.t, clock=clock)
    rows = desk.due("console", chat.user)
    assert [r["payload"]["text"].endswith("eerste antwoord") for r in rows] == [True]
    desk.sent(rows[0]["id"])
    assert desk.due("console", chat.user) == []


def test_dead_letter_after_max_attempts_is_visible(service, chat, clock):
    case_id = open_case(chat)
    service.desk.reply(MOD, case_id, "hallo?")
    row_id = service.desk.due("console", chat.user)[0]["id"]
    for _ in range(5):
        service.desk.failed(row_id, "DMs closed")
        clock.advance(100)
    assert [r["id"] for r in service.desk.dead_letters()] == [row_id]
    assert "could not deliver" in service.desk.show(MOD, case_id)[1][-1]["text"]


def test_concurrent_claim_one_wins(service, chat):
    case_id = open_case(chat)
    assert service.desk.claim("console:anna", case_id) == (True, "console:anna")
    assert service.desk.claim("console:bob", case_id) == (False, "console:anna")


def test_unauthorized_moderator_changes_nothing(service, chat):
    case_id = open_case(chat)
    for action in (
        lambda: service.desk.reply("tg:999", case_id, "hi"),
        lambda: service.desk.close("tg:999", case_id),
        lambda: service.desk.claim("tg:999", case_id),
        lambda: service.desk.list("tg:999"),
    ):
        with pytest.raises(NotAllowed):
            action()
    assert service.desk.show(MOD, case_id)[0]["status"] == "waiting"
    assert service.desk.due("console", chat.user) == []


def test_block_tells_the_user_once_and_relays_nothing(service, chat):
    case_id = open_case(chat)
    service.desk.block(MOD, chat.user, 3600)
    assert service.desk.show(MOD, case_id)[0]["status"] == "closed"
    notices = [r["payload"]["text"] for r in service.desk.due("console", chat.user)]
    assert sum("niet bereiken" in n for n in notices) == 1, notices
    assert chat.state.case_id is None
    chat.say("/mens")
    chat.press("human:intake")
    reply = chat.say("laat me erin")
    assert not any("niet bereiken" in getattr(p, "text", "") for p in reply), "told once, at the block"
    assert service.desk.open_case_for(chat.user) is None


@pytest.mark.parametrize("hours", ["nan", "-5", "0", "inf", "abc"])
def test_block_refuses_hours_that_block_nobody(service, chat, hours):
    from bot.desk import commands

    case_id = open_case(chat)
    with pytest.raises(commands.Usage):
        commands.run(service.desk, MOD, "block", case_id, hours)
    assert service.desk.show(MOD, case_id)[0]["status"] == "waiting"
    assert not service.desk.blocked(chat.user)


def test_escalation_by_a_moderator_quotes_the_message(service):
    case_id = service.desk.escalate(
        MOD, "dc:5", "discord", reason="zorgwekkend bericht", quoted="ik zie het niet meer zitten", topic="distress", priority=1
    )
    case, messages = service.desk.show(MOD, case_id)
    assert case["priority"] == 1 and messages[0]["author"] == "quote"
    assert service.store.get_state("dc:5").case_id == case_id
    reply = service.process(Inbound(user="dc:5", text="hallo?", channel="discord"))
    assert any(isinstance(p, HandoffNotice) for p in reply)


def test_retention_deletes_old_closed_transcripts(service, chat, clock):
    case_id = open_case(chat)
    service.desk.close(MOD, case_id)
    clock.advance(31 * 86400)
    assert service.desk.purge(30) == 1
    assert service.desk.list(MOD, include_closed=True) == []


def test_forget_removes_cases(chat, service):
    open_case(chat)
    chat.say("/stop")
    chat.say("/vergeet")
    chat.press("forget:yes")
    assert service.desk.list(MOD, include_closed=True) == []


def test_overdue_cases_are_flagged(service, chat, clock):
    open_case(chat)
    clock.advance(2 * 3600)
    assert service.desk.list(MOD)[0]["overdue"]
