"""No input can crash the bot: the reproductions from reliability.md (D4, D8) and the per-message guard."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from bot.core import quiz
from bot.core.text import ascii_int, clean_input, valid_unicode
from bot.core.types import Inbound, QuizQuestion, Referral, Text
from tests.conftest import Chat

UNICODE_DIGITS = ["²", "③", "①", "⑨", "٣", "۳", "३", "３", "𝟐", "¹²"]


def test_ascii_int_reads_only_ascii_digits():
    assert [ascii_int(x) for x in ("0", "2", "42", " 2", "2.", "(3)", "#4")] == [0, 2, 42, 2, 2, 3, 4]
    odd = [*UNICODE_DIGITS, "", "2.5", "-1", "+1", "1e3", "9" * 10, "9" * 5000]
    assert [ascii_int(x) for x in odd] == [None] * len(odd)


def test_valid_unicode_joins_pairs_and_replaces_lone_surrogates():
    assert valid_unicode("a\ud83d\ude00b") == "a😀b"
    assert valid_unicode("hoi \ud800 \udfff") == "hoi \ufffd \ufffd"
    assert valid_unicode("gewoon ü ß 😀") == "gewoon ü ß 😀"
    assert clean_input("\x00hoi\udcff\x7f ") == "hoi\ufffd"
    for text in ("\ud800", "x\udc80y", "\udbff\udbff"):
        valid_unicode(text).encode("utf-8")  # storable and sendable


def test_unicode_digit_in_a_quiz_is_not_an_answer_and_does_not_crash(service):
    """D4: '²' during a quiz raised ValueError in quiz.parse_answer."""
    for n, digit in enumerate(UNICODE_DIGITS):
        chat = Chat(service, user=f"console:q{n}")
        chat.say("/quiz 1")
        before = chat.state.quiz.index
        reply = chat.say(digit)
        assert chat.state.quiz.index == before, f"{digit!r} was scored"
        assert any(isinstance(p, QuizQuestion) for p in reply), "the question is asked again with the hint"


def test_unicode_digit_after_a_menu_is_text(service):
    """D4: '²' while a menu is offered raised ValueError in Engine._choice."""
    for n, digit in enumerate(UNICODE_DIGITS):
        chat = Chat(service, user=f"console:m{n}")
        chat.say("/start")
        reply = chat.say(digit)
        assert reply and not str(reply.intent or "").startswith("choice:"), digit


def test_quiz_command_with_an_odd_number(service):
    """D4: '/quiz ²' raised ValueError in Engine.run_command. Now the chapter is read from the normalized text (NFKD
    makes '²' a 2); anything else shows the chapter menu."""
    for n, (arg, chapter) in enumerate([("²", 2), ("①", 1), ("٣", None), ("9" * 5000, None), ("0", None)]):
        chat = Chat(service, user=f"console:c{n}")
        assert chat.say(f"/quiz {arg}")
        assert (chat.state.quiz.chapter if chat.state.quiz else None) == chapter, arg


def test_ascii_numbers_still_pick(chat):
    chat.say("/start")
    assert chat.say("2").intent == "choice:quiz"
    chat.say("1")
    assert chat.state.quiz is not None
    before = chat.state.quiz.index
    chat.say("2")
    assert chat.state.quiz.index == before + 1


def test_a_long_run_of_digits_after_a_menu(chat):
    chat.say("/start")
    assert chat.say("9" * 5000)  # more digits than int() accepts: text, not a crash


def test_parse_answer_units():
    q = QuizQuestion("x", "quiz", 1, 8, 1, "?", ("ja", "nee", "soms"), 0, "", ("a", "b", "c"))
    assert [quiz.parse_answer(t, q) for t in ("2", "B)", "soms", "²", "4", "9" * 5000)] == [1, 1, 2, None, None, None]


def test_lone_surrogates_anywhere(service):
    """D8: a surrogate in the user key (get_state), in the intake line (open_case) or in a case (add_message)."""
    odd = Chat(service, user="console:\ud800")
    assert odd.say("hoi")
    chat = Chat(service, user="console:anna")
    chat.say("/mens")
    chat.press("human:intake")
    opened = chat.say("mijn vraag \ud800 over een contract")
    assert chat.state.case_id is not None, opened
    chat.say("nog iets \udfff")
    named = service.process(Inbound(user="tg:9", text="hoi", channel="telegram", display_name="An\ud800na\x00"))
    assert named
    _, rows = service.desk.show("console:mod", chat.state.case_id)
    assert any("\ufffd" in r["text"] for r in rows)


def test_an_unexpected_error_gets_an_apology_and_is_logged_without_the_text(service, monkeypatch, caplog):
    def broken(inbound, state):
        raise ValueError(f"invalid literal: {inbound.text!r}")

    monkeypatch.setattr(service.engine, "handle", broken)
    with caplog.at_level(logging.ERROR):
        reply = service.process(Inbound(user="tg:1", text="mijn geheime vraag", channel="telegram"))
    assert [p.text for p in reply] == [service.engine.t("error_apology", "nl")]
    assert "ValueError" in caplog.text and "in broken" in caplog.text, "the type and where, for the developer"
    assert "geheime" not in caplog.text and "invalid literal" not in caplog.text, "never the message: it quotes the text"


def test_a_crisis_message_that_hits_an_error_still_gets_its_referral(service, monkeypatch):
    def broken(inbound, state):
        raise RuntimeError("boom")

    monkeypatch.setattr(service.engine, "handle", broken)
    reply = service.process(Inbound(user="tg:1", text="ik wil niet meer leven", channel="telegram", lang_hint="nl"))
    referral = next(p for p in reply if isinstance(p, Referral))
    assert "1813" in referral.text and "112" in referral.text
    assert isinstance(reply[-1], Text) and reply[-1].text == service.engine.t("error_apology", "nl")
    assert service.store.safety_events("tg:1"), "the crisis event is still recorded (category and time)"


def test_the_apology_exists_in_every_language(service):
    texts = {lang: service.engine.t("error_apology", lang) for lang in ("nl", "fr", "en")}
    assert len(set(texts.values())) == 3
    assert "/mens" in texts["nl"] and "/humain" in texts["fr"] and "/human" in texts["en"]
    assert " tu " not in f" {texts['fr'].lower()} ", "French: vous everywhere"


def test_a_broken_store_still_gets_an_apology(service, monkeypatch):
    def down(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(service.store.users, "get", down)
    reply = service.process(Inbound(user="tg:1", text="hallo", channel="telegram", lang_hint="fr"))
    assert reply[-1].text == service.engine.t("error_apology", "fr")


# -- chat --json through the real process --------------------------------------------------------------


def run_json(raw: bytes, db, strict: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "INFLUBOT_DB": str(db)}
    if strict:  # how Python reads stdin under a UTF-8 locale such as en_US.UTF-8
        env["PYTHONIOENCODING"] = "utf-8:strict"
    return subprocess.run([sys.executable, "-m", "bot", "chat", "--json"], input=raw, capture_output=True, env=env, timeout=300)


HOSTILE = [
    b"\xff\xfe",
    b"hoi \xc3(",
    b"\xed\xa0\x80",  # a surrogate encoded in UTF-8 (invalid)
    b'{"user": "\\ud800", "text": "hoi"}',
    b'{"user": "a", "text": "hoi \\udfff"}',
    b'{"user": "a", "text": "\\u0000\\u0000"}',
    b"\x00\x00\x00",
    b"/start",
    "²".encode(),
    "/quiz ①".encode(),
    b"[" * 100_000,
    b"{" + b'"a":[' * 50_000,
    b'{"user": 1e999, "text": 123}',
    b'{"user": "a", "text": "' + b"9" * 5000 + b'"}',
    b"ik wil dood " * 90_000,  # a 1 MB crisis line
    b"\r",
]


def test_chat_json_survives_every_hostile_line_and_keeps_its_neighbours(tmp_path):
    """D8: under a strict UTF-8 locale, 6 of 26 raw lines killed the process and took valid neighbours along."""
    lines = []
    for i, bad in enumerate(HOSTILE):
        lines += [f'{{"user": "n{i}", "text": "wat kost het certificaat?"}}'.encode(), bad]
    lines.append(b'{"user": "last", "text": "wat kost het certificaat?"}')
    proc = run_json(b"\n".join(lines) + b"\n", tmp_path / "h.db")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    out = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert len(out) == len(lines), "one object per line"
    for i in range(len(HOSTILE)):
        assert out[2 * i]["user"] == f"n{i}" and "49" in out[2 * i]["text"], out[2 * i]
    assert "49" in out[-1]["text"]
    assert all(o.get("text") or o.get("error") for o in out)
    crisis = out[2 * HOSTILE.index(b"ik wil dood " * 90_000) + 1]
    assert crisis["referral"] is not None
    assert b"Traceback" not in proc.stderr


def test_chat_json_reads_each_line_on_its_own_bytes(tmp_path):
    proc = run_json(b"wat kost het certificaat?\n\xff\nwat kost het certificaat?\n", tmp_path / "b.db")
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(out) == 3 and "49" in out[0]["text"] and "49" in out[2]["text"]


def test_desk_reply_with_undecodable_arguments(tmp_path):
    """reliability.md: `influbot desk reply N "<text with surrogates>"` raised UnicodeEncodeError."""
    db = tmp_path / "d.db"
    run_json(b"/mens\n/mens\nik wil een moderator spreken\n", db)
    env = {**os.environ, "INFLUBOT_DB": str(db)}
    proc = subprocess.run([sys.executable, "-m", "bot", "desk", "reply", "1", b"hallo \xff\xfe"], capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    shown = subprocess.run([sys.executable, "-m", "bot", "desk", "show", "1"], capture_output=True, env=env)
    assert "hallo \ufffd\ufffd" in shown.stdout.decode()


def test_a_forged_payload_with_a_trailing_newline_or_odd_digit_is_expired(service, caplog):
    """Found by the fuzz test: the payload regex's `$` also matched before a final newline, so 'quiz:random\\n'
    reached int() and raised ValueError."""
    for n, payload in enumerate(["quiz:random\n", "quiz:1\n", "ans:x:1\n", "faq:cert_price\n", "quiz:٣", "ans:ch1_q01:٣"]):
        chat = Chat(service, user=f"console:p{n}")
        chat.say("/quiz 1")
        reply = chat.press(payload)
        assert service.engine.t("button_expired", "nl") in [getattr(p, "text", "") for p in reply], payload
    assert "not handled" not in caplog.text
