"""Chapter quiz, exam simulation and review of wrong answers (render-neutral)."""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

from bot.content import Content, QuizItem
from bot.core.text import ascii_int, normalize
from bot.core.types import QuizQuestion, QuizRun, State

QUIZ_LENGTH = 8
EXAM_PER_CHAPTER = 4  # 5 chapters x 4 = 20 questions
PASS_MARK = 0.70
REVIEW_RIGHT_NEEDED = 2
LETTERS = string.ascii_lowercase[:4]


def passed(right: int, total: int) -> bool:
    """Pass mark 70%, compared in integers: 14/20 passes, 13/20 fails."""
    return total > 0 and right * 100 >= total * int(PASS_MARK * 100)


def percent(right: int, total: int) -> int:
    return round(100 * right / total) if total else 0


def _orders(items: list[QuizItem], rng: random.Random) -> list[list[int]]:
    orders = []
    for item in items:
        order = list(range(len(item.options("nl"))))
        rng.shuffle(order)
        orders.append(order)
    return orders


def start(
    content: Content, mode: str, rng: random.Random, chapter: int | None = None, review: list[str] | None = None
) -> QuizRun:
    by_chapter = {n: list(ch.items) for n, ch in content.chapters.items()}
    if mode == "exam":
        items = [it for n in sorted(by_chapter) for it in rng.sample(by_chapter[n], EXAM_PER_CHAPTER)]
        rng.shuffle(items)
    elif mode == "review":
        pool = [content.quiz_items[i] for i in review or [] if i in content.quiz_items]
        items = rng.sample(pool, min(QUIZ_LENGTH, len(pool)))
    elif chapter is None:
        pool = [it for its in by_chapter.values() for it in its]
        items = rng.sample(pool, QUIZ_LENGTH)
    else:
        items = rng.sample(by_chapter[chapter], min(QUIZ_LENGTH, len(by_chapter[chapter])))
    return QuizRun(mode=mode, chapter=chapter, items=[it.id for it in items], orders=_orders(items, rng))


def current(content: Content, run: QuizRun, lang: str) -> QuizQuestion:
    item = content.quiz_items[run.items[run.index]]
    order = run.orders[run.index]
    options = item.options(lang)
    return QuizQuestion(
        item_id=item.id,
        mode=run.mode,
        number=run.index + 1,
        total=len(run.items),
        chapter=item.chapter,
        question=item.question(lang),
        options=tuple(options[i] for i in order),
        correct=order.index(item.correct),
        explanation=item.explanation(lang),
        payloads=tuple(f"ans:{item.id}:{pos}" for pos in range(len(order))),
    )


_ANSWER_WORDS = re.compile(
    r"^(?:antwoord|optie|keuze|het is|het|ik kies|ik denk|reponse|réponse|c est|je choisis|answer|option|it s|it is|i pick)\s+"
)


def parse_answer(text: str, question: QuizQuestion) -> int | None:
    """The shown position a typed answer picks: '2', 'b', 'B)', 'antwoord b', or (a recognisable part of) an option's text."""
    raw = _ANSWER_WORDS.sub("", text.strip().lower()).strip().rstrip(").:!")
    n = len(question.options)
    number = ascii_int(raw)  # not int(): "²" passes isdigit(), and 5,000 digits are more than int() reads
    if number is not None and 1 <= number <= n:
        return number - 1
    if len(raw) == 1 and raw in LETTERS[:n]:
        return LETTERS.index(raw)
    typed = normalize(raw)
    if len(typed) < 4:
        return None
    options = [normalize(o) for o in question.options]
    exact = [pos for pos, option in enumerate(options) if typed == option]
    if exact:
        return exact[0]
    # part of one option and of no other: "de raad voor reclame" for "De Raad voor Reclame (JEP)"
    containing = [pos for pos, option in enumerate(options) if typed in option]
    return containing[0] if len(containing) == 1 and len(typed) >= 8 else None


@dataclass(frozen=True)
class Answered:
    item: QuizItem
    right: bool
    chosen_text: str
    correct_text: str
    finished: bool


def answer(content: Content, state: State, shown: int, lang: str) -> Answered:
    """Record an answer (shown position) for the current question and advance."""
    run = state.quiz
    assert run is not None
    question = current(content, run, lang)
    item = content.quiz_items[question.item_id]
    original = run.orders[run.index][shown]
    right = original == item.correct
    run.answers.append(original)
    run.index += 1
    if right and item.id in state.review:
        state.review[item.id] -= 1
        if state.review[item.id] <= 0:
            del state.review[item.id]
    elif not right:
        state.review[item.id] = REVIEW_RIGHT_NEEDED
    return Answered(item, right, question.options[shown], question.options[question.correct], run.index >= len(run.items))


@dataclass(frozen=True)
class Result:
    right: int
    total: int
    wrong: list[QuizItem]
    per_chapter: dict[int, tuple[int, int]]  # chapter -> (right, total)

    @property
    def passed(self) -> bool:
        return passed(self.right, self.total)

    @property
    def percent(self) -> int:
        return percent(self.right, self.total)


def result(content: Content, run: QuizRun) -> Result:
    right, wrong, per = 0, [], {}
    for item_id, chosen in zip(run.items, run.answers, strict=False):
        item = content.quiz_items[item_id]
        ok = chosen == item.correct
        right += ok
        r, t = per.get(item.chapter, (0, 0))
        per[item.chapter] = (r + ok, t + 1)
        if not ok:
            wrong.append(item)
    return Result(right, len(run.answers), wrong, dict(sorted(per.items())))
