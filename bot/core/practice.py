"""The quiz conversation: start, resume, answer and results, around the quiz model in quiz.py."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.core import quiz, texts
from bot.core.text import ascii_int, normalize
from bot.core.types import QuizQuestion, Reply, State, Text

if TYPE_CHECKING:
    from bot.core.pipeline import Engine, Turn

_CHAPTER_NUMBER = re.compile(r"\b(?:hoofdstuk|hfdst|hs|h|chapitre|chap|ch|chapter)\s*(\d)\b")


def step(engine: Engine, turn: Turn) -> bool:
    """While a quiz runs, a typed answer counts; a question in between is answered and the quiz waits."""
    state, reply, text = turn.state, turn.reply, turn.text
    if not state.quiz or state.quiz.paused:
        return False
    shown = question(engine, state)
    pos = quiz.parse_answer(text, shown)
    if pos is not None:
        reply.intent, reply.confidence = "quiz_answer", 1.0
        record_answer(engine, pos, state, reply)
        return True
    from bot.core import understand

    if understand.QUIZ_WORDS.search(normalize(text)) and (chapter := chapter_in(engine, text)) is not None:
        start(engine, state, reply, "quiz", chapter)  # "ik wil oefenen op hoofdstuk 4": a new quiz
        return True
    prediction = engine.classifier.predict(text) if normalize(text) else None
    if prediction and prediction.confident and prediction.intent in engine.content.faq:
        understand.answer_faq(engine, prediction.intent, state, reply)
        reply.append(Text(engine.t("quiz_waits", state.lang)))
    else:
        reply.append(Text(engine.t("quiz_hint", state.lang, n=len(shown.options))))
    reply.append(shown)
    return True


def question(engine: Engine, state: State) -> QuizQuestion:
    assert state.quiz is not None
    return quiz.current(engine.content, state.quiz, state.lang)


def chapter_in(engine: Engine, text: str) -> int | None:
    """The chapter a user names: "3", "hoofdstuk 3", "chapitre 2", a title or a topic word ("gokken")."""
    norm = normalize(text)
    if not norm:
        return None
    number = ascii_int(norm)
    match = _CHAPTER_NUMBER.search(norm)
    if match:
        number = int(match.group(1))
    if number is not None:
        return number if number in engine.content.chapters else None
    words = set(norm.split())
    best, best_score = None, 0
    for n, chapter in engine.content.chapters.items():
        score = sum(len(w) for w in words & chapter.keywords)
        if score > best_score:
            best, best_score = n, score
    return best if best_score >= 4 else None


def start(engine: Engine, state: State, reply: Reply, mode: str, chapter: int | None) -> None:
    review = list(state.review) if mode == "review" else None
    state.quiz = quiz.start(engine.content, mode, engine.rng, chapter, review)
    state.flow, state.flow_data = None, {}
    intro = {"quiz": "quiz_intro", "exam": "exam_intro", "review": "review_intro"}[mode]
    title = engine.content.chapters[chapter].title[state.lang] if chapter else engine.t("random_chapter", state.lang)
    reply.append(Text(engine.t(intro, state.lang, n=len(state.quiz.items), title=title)))
    reply.append(question(engine, state))


def resume(engine: Engine, state: State, reply: Reply) -> None:
    assert state.quiz is not None
    state.quiz.paused = False
    reply.append(Text(engine.t("quiz_continues", state.lang)))
    reply.append(question(engine, state))


def record_answer(engine: Engine, pos: int, state: State, reply: Reply) -> None:
    run = state.quiz
    assert run is not None
    lang, t = state.lang, engine.t
    done = quiz.answer(engine.content, state, pos, lang)
    if run.mode != "exam":
        faq = engine.content.faq.get(done.item.faq)
        verdict = t("quiz_right", lang) if done.right else t("quiz_wrong", lang, answer=done.correct_text)
        lines = [verdict, done.item.explanation(lang)]
        if faq:
            lines.append(t("quiz_more", lang, question=faq.question[lang], url=faq.link(lang)))
        reply.append(Text("\n".join(lines), source_url=faq.link(lang) if faq else None, faq_id=done.item.faq))
    if not done.finished:
        reply.append(quiz.current(engine.content, run, lang))
        return
    state.quiz = None
    result = quiz.result(engine.content, run)
    reply.append(Text(texts.result(engine.content, t, run.mode, result, lang)))
    if run.mode == "exam":
        state.exams.append({"right": result.right, "total": result.total, "passed": result.passed, "at": int(engine.clock())})
    elif run.mode == "quiz" and run.chapter:
        key = str(run.chapter)
        state.best[key] = max(state.best.get(key, 0), result.percent)
    reply.append(texts.main_menu(t, lang))
