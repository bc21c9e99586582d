"""Chapter quiz, exam simulation at the 70% boundary, progress, review and resume after restart."""

from __future__ import annotations

import random

import pytest

from bot.content import load_content
from bot.core import quiz
from bot.core.types import QuizQuestion, Text
from tests.conftest import Chat, text_of


@pytest.mark.parametrize(
    ("right", "total", "ok"), [(14, 20, True), (13, 20, False), (7, 10, True), (6, 10, False), (20, 20, True), (0, 20, False)]
)
def test_pass_mark_boundary(right, total, ok):
    assert quiz.passed(right, total) is ok


def test_exam_draws_20_with_at_least_3_per_chapter_reproducibly():
    content = load_content()
    a = quiz.start(content, "exam", random.Random(5))
    b = quiz.start(content, "exam", random.Random(5))
    assert a.items == b.items and a.orders == b.orders
    assert len(a.items) == 20
    chapters = [content.quiz_items[i].chapter for i in a.items]
    assert all(chapters.count(n) >= 3 for n in range(1, 6))


def _question(reply) -> QuizQuestion:
    return next(p for p in reply if isinstance(p, QuizQuestion))


def test_chapter_quiz_wrong_answer_explains_and_links_faq(chat, content):
    chat.say("/quiz")
    q = _question(chat.press("quiz:3"))
    wrong = (q.correct + 1) % len(q.options)
    reply = chat.say(str(wrong + 1))
    feedback = reply[0]
    item = content.quiz_items[q.item_id]
    assert "❌" in feedback.text and item.explanation("nl") in feedback.text
    assert content.faq[item.faq].url in feedback.text
    assert q.item_id in chat.state.review


def test_chapter_quiz_to_the_end_with_score_and_review_list(chat):
    chat.say("/quiz")
    reply = chat.press("quiz:3")
    first = True
    while chat.state.quiz:
        q = _question(reply)
        pick = (q.correct + 1) % len(q.options) if first else q.correct
        first = False
        reply = chat.press(q.payloads[pick])
    text = text_of(reply)
    assert "Je score: 7/8" in text and "Lees dit nog eens na" in text
    assert chat.state.best["3"] == 88


def _exam(chat, right_answers: int):
    reply = chat.say("/examen")
    n = 0
    while chat.state.quiz:
        q = _question(reply)
        assert not any(isinstance(p, Text) and "✅" in p.text for p in reply), "no feedback during the exam"
        pick = q.correct if n < right_answers else (q.correct + 1) % len(q.options)
        n += 1
        reply = chat.say("abcd"[pick])
    return text_of(reply)


def test_exam_14_of_20_passes(chat):
    text = _exam(chat, 14)
    assert "14/20" in text and "Geslaagd" in text and "Per hoofdstuk" in text
    assert chat.state.exams[-1]["passed"]


def test_exam_13_of_20_fails_with_breakdown_and_explanations(chat):
    text = _exam(chat, 13)
    assert "13/20" in text and "Nog niet geslaagd" in text
    assert text.count("✗") == 7
    assert not chat.state.exams[-1]["passed"]


def test_quiz_survives_a_restart(service, tmp_path, clock):
    from bot.config import Settings
    from bot.desk import Desk
    from bot.service import Service, build_engine
    from bot.storage.sqlite import SqliteStorage as SqliteStore

    chat = Chat(service)
    chat.say("/quiz")
    chat.press("quiz:2")
    q = _question(chat.say("1"))
    # a new process on the same database
    engine = build_engine(seed=1, clock=clock)
    store = SqliteStore(tmp_path / "test.db", clock=clock)
    again = Chat(Service(engine, store, Desk(store, engine.t, clock=clock), Settings(), clock=clock))
    resumed = _question(again.say("/start"))
    assert resumed.item_id == q.item_id and resumed.options == q.options and resumed.number == 2


def test_stop_ends_the_quiz(chat):
    chat.say("/quiz")
    chat.press("quiz:1")
    chat.say("/stop")
    assert chat.state.quiz is None


def test_progress_shows_best_scores_and_exams(chat):
    _exam(chat, 15)
    text = chat.say("/voortgang")[0].text
    assert "1 keer gedaan" in text and "15/20" in text


def test_review_brings_wrong_answers_back_until_right_twice(chat):
    chat.say("/quiz")
    q = _question(chat.press("quiz:4"))
    chat.press(q.payloads[(q.correct + 1) % len(q.options)])
    chat.say("/stop")
    assert chat.state.review[q.item_id] == 2
    for expected_left in (1, None):
        reply = chat.say("/herhaal")
        while chat.state.quiz:
            rq = _question(reply)
            reply = chat.press(rq.payloads[rq.correct])
        assert chat.state.review.get(q.item_id) == expected_left
    assert "geen foute vragen" in chat.say("/herhaal")[0].text


def test_interruption_faq_question_answers_and_repeats_the_question(chat):
    chat.say("/quiz")
    q = _question(chat.press("quiz:1"))
    reply = chat.say("wat kost het certificaat?")
    assert any(getattr(p, "faq_id", None) == "cert_price" for p in reply)
    assert _question(reply).item_id == q.item_id


def test_quiz_in_french_and_english(chat):
    for lang, title in (("fr", "Publicité"), ("en", "Transparent")):
        chat.say(f"/taal {lang}")
        menu = text_of(chat.say("/quiz"))
        assert title.lower() in menu.lower()
        q = _question(chat.press("quiz:3"))
        reply = chat.press(q.payloads[q.correct])
        assert "✅" in reply[0].text
        chat.say("/stop")
