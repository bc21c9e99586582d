"""Conversations through the core: FAQ answers, languages, commands, fallback, bad input."""

from __future__ import annotations

import pytest

from bot.core.types import Choices, Referral, Text
from tests.conftest import text_of


def test_greeting_in_dutch_with_menu(chat):
    reply = chat.say("/start")
    assert "influbot" in reply[0].text and "Hoi" in reply[0].text
    assert isinstance(reply[-1], Choices)


@pytest.mark.parametrize(
    ("question", "faq", "lang", "fragment"),
    [
        ("wat kost het certificaat?", "cert_price", "nl", "49"),
        ("hoelang is da geldig", "cert_validity", "nl", "jaar"),
        ("combien coûte le certificat ?", "cert_price", "fr", "49"),
        ("How do I disclose a sponsored post?", None, "en", "https://"),
    ],
)
def test_faq_answers_in_the_right_language_with_a_source(chat, question, faq, lang, fragment):
    reply = chat.say(question)
    answer = reply[0]
    assert isinstance(answer, Text) and answer.source_url
    if faq:
        assert answer.faq_id == faq
    else:
        assert answer.faq_id.startswith("disclosure_")
    assert fragment in answer.text
    assert chat.state.lang == lang
    assert answer.source_url in answer.text


def test_out_of_scope_says_what_the_bot_does(chat):
    reply = chat.say("wat is het weer morgen?")
    assert not any(getattr(p, "faq_id", None) for p in reply)
    assert "Influencer Certificaat" in text_of(reply)


def test_two_misses_in_a_row_offer_a_human(chat):
    chat.say("wat is het weer morgen?")
    reply = chat.say("wie wint de match vanavond")
    payloads = [c.payload for p in reply if isinstance(p, Choices) for c in p.options]
    assert "human:intake" in payloads


def test_language_override_sticks(chat):
    chat.say("/taal en")
    reply = chat.say("wat kost het certificaat?")
    assert chat.state.lang == "en" and "49" in reply[0].text
    assert reply[0].text == chat.service.engine.content.faq["cert_price"].answer["en"] + f"\n\nSource: {reply[0].source_url}"


def test_choice_by_number(chat):
    chat.say("/start")
    reply = chat.say("2")
    assert any(isinstance(p, Choices) and any(c.payload == "quiz:1" for c in p.options) for p in reply)


@pytest.mark.parametrize(
    "text", ["", "   ", "\x00\x01\x02", "😀😀😀", "<b>hallo</b><script>alert(1)</script>", "/bestaatniet", "x" * 100_000]
)
def test_bad_input_gets_a_clear_reply(chat, text):
    reply = chat.say(text)
    assert reply, "every input gets an answer"
    assert text_of(reply).strip()


def test_huge_input_still_checked_for_safety(chat):
    reply = chat.say("bla " * 30_000 + " ik wil niet meer leven")
    assert any(isinstance(p, Referral) for p in reply)


def test_unknown_command(chat):
    assert "/help" in chat.say("/bestaatniet")[0].text


def test_wrong_button_payloads_change_nothing(chat):
    chat.say("/quiz")
    chat.press("quiz:2")
    before = chat.state.to_dict()
    for payload in ("ans:ch9_q99:1", "faq:nope", "evil:payload", "ans:" + "x" * 500, "quiz:9"):
        reply = chat.press(payload)
        assert "verlopen" in text_of(reply)
    after = chat.state.to_dict()
    assert after["quiz"] == before["quiz"]


def test_duplicate_delivery_is_ignored(service):
    from bot.core.types import Inbound

    first = service.process(Inbound(user="tg:1", text="wat kost het?", channel="telegram", message_id="m1"))
    again = service.process(Inbound(user="tg:1", text="wat kost het?", channel="telegram", message_id="m1"))
    assert first and not again


def test_the_service_answers_every_message_however_fast(service):
    """Flood control moved to bot/flood.py (the channels); Service.process itself never drops a message."""
    from bot.core.types import Inbound

    replies = [service.process(Inbound(user="tg:2", text=f"hallo {i}", channel="telegram")) for i in range(30)]
    assert all(replies)
    assert not any(service.engine.t("slow_down", "nl") in getattr(p, "text", "") for r in replies for p in r)


def test_forget_deletes_everything_after_confirmation(chat, service):
    chat.say("ik snij mezelf")
    chat.say("/vergeet")
    assert service.store.safety_events(chat.user)
    chat.press("forget:yes")
    assert not service.store.safety_events(chat.user)
    assert chat.state.best == {} and chat.state.referral_at == {}


def test_forget_can_be_cancelled(chat, service):
    chat.say("ik snij mezelf")
    chat.say("/vergeet")
    chat.say("nee")
    assert service.store.safety_events(chat.user)
