"""Render-neutral message types and per-user conversation state."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "choice"]


@dataclass(frozen=True)
class Inbound:
    """One message from a user, as an adapter hands it to the core."""

    user: str  # stable key: "tg:123", "dc:456", "console:anna"
    text: str = ""
    kind: Kind = "text"  # "choice": a button/poll payload in `payload`
    payload: str = ""
    channel: str = "console"
    lang_hint: str | None = None  # the platform's locale, if known
    message_id: str | None = None  # platform message id, for duplicate detection
    display_name: str | None = None


@dataclass(frozen=True)
class Choice:
    label: str
    payload: str  # short, validated, restart-safe: "faq:cert_price", "ans:ch3_q01:2"


@dataclass(frozen=True)
class Text:
    text: str
    source_url: str | None = None
    faq_id: str | None = None
    helpline: str | None = None  # a helpline's card (bot/core/referrals.py)


@dataclass(frozen=True)
class Choices:
    prompt: str
    options: tuple[Choice, ...]


@dataclass(frozen=True)
class Referral:
    topic: str
    severity: str
    helplines: tuple[str, ...]
    text: str
    short: bool = False


@dataclass(frozen=True)
class QuizQuestion:
    item_id: str
    mode: str  # quiz, exam, review
    number: int
    total: int
    chapter: int
    question: str
    options: tuple[str, ...]  # in the order shown
    correct: int  # index into `options`
    explanation: str
    payloads: tuple[str, ...]


@dataclass(frozen=True)
class HandoffNotice:
    text: str
    case_id: int | None
    status: str  # opened, waiting, relayed, closed, moderator


@dataclass(frozen=True)
class ToDesk:
    """A message for the moderators' desk; the service turns it into a case or case message."""

    action: str  # open, message
    text: str
    topic: str = ""
    priority: int = 0  # higher first; safety-related cases > 0
    tags: tuple[str, ...] = ()
    context: tuple[str, ...] = ()  # open: the user's messages just before, for the moderator (kept with the case)


@dataclass(frozen=True)
class Action:
    """An instruction for the service around the core (not shown to the user)."""

    name: str  # forget


Part = Text | Choices | Referral | QuizQuestion | HandoffNotice | ToDesk | Action


class Reply(list):  # type: ignore[type-arg]
    """The parts of one reply, plus what the core understood (for logs and the JSON contract)."""

    intent: str | None = None
    confidence: float = 0.0
    unplaced: bool = False  # the question matched no FAQ entry (counted per day for the desk's figures, no text)


@dataclass
class QuizRun:
    mode: str  # quiz, exam, review
    chapter: int | None
    items: list[str]
    orders: list[list[int]]  # per item: shown position -> original option index
    index: int = 0
    answers: list[int] = field(default_factory=list)  # original option index chosen, per item
    paused: bool = False


@dataclass
class State:
    """Everything the core remembers about one user (stored as JSON)."""

    lang: str = "nl"
    lang_fixed: bool = False
    greeted: bool = False
    quiz: QuizRun | None = None
    misses: int = 0
    last_faq: str | None = None
    last_question: str | None = None  # the last question read by the classifier, for follow-ups
    flow: str | None = None  # deflect, intake, forget, caption
    flow_data: dict[str, Any] = field(default_factory=dict)
    case_id: int | None = None
    referral_at: dict[str, float] = field(default_factory=dict)  # topic -> time of the full text
    best: dict[str, int] = field(default_factory=dict)  # chapter -> best percentage
    exams: list[dict[str, Any]] = field(default_factory=list)
    review: dict[str, int] = field(default_factory=dict)  # item id -> right answers still needed
    offered: list[str] = field(default_factory=list)  # payloads of the last choices, pickable by number
    recent: list[str] = field(default_factory=list)  # the user's last few messages (cut short; deleted by /vergeet)

    def copy(self) -> State:
        """A copy that shares nothing mutable with this state (cheaper than a deep copy)."""
        quiz = self.quiz
        return dataclasses.replace(
            self,
            quiz=dataclasses.replace(quiz, items=list(quiz.items), orders=quiz.orders, answers=list(quiz.answers))
            if quiz
            else None,
            flow_data=dict(self.flow_data),
            referral_at=dict(self.referral_at),
            best=dict(self.best),
            exams=list(self.exams),
            review=dict(self.review),
            offered=list(self.offered),
            recent=list(self.recent),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> State:
        if not raw:
            return cls()
        raw = dict(raw)
        known = {f.name for f in dataclasses.fields(cls)}
        quiz = raw.pop("quiz", None)
        state = cls(**{k: v for k, v in raw.items() if k in known})
        state.quiz = QuizRun(**quiz) if quiz else None
        return state
