"""Plain-text rendering of reply parts (console, JSON contract, and channel fallbacks)."""

from __future__ import annotations

from bot.core.i18n import Strings
from bot.core.quiz import LETTERS
from bot.core.types import Choices, HandoffNotice, Part, QuizQuestion, Referral, Text


def question_text(q: QuizQuestion, t: Strings, lang: str) -> str:
    head = t("quiz_question", lang, number=q.number, total=q.total)
    opts = "\n".join(f"  {i + 1}) {LETTERS[i].upper()}. {o}" for i, o in enumerate(q.options))
    return f"{head} · {q.question}\n{opts}"


def part_text(part: Part, t: Strings, lang: str) -> str:
    if isinstance(part, (Text, Referral, HandoffNotice)):
        return part.text
    if isinstance(part, Choices):
        opts = "\n".join(f"  {i + 1}) {c.label}" for i, c in enumerate(part.options))
        return f"{part.prompt}\n{opts}"
    if isinstance(part, QuizQuestion):
        return question_text(part, t, lang)
    return ""


def plain(parts: list[Part], t: Strings, lang: str) -> str:
    return "\n\n".join(s for s in (part_text(p, t, lang) for p in parts) if s)
