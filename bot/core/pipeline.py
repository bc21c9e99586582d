"""The core: Engine.handle(inbound, state) -> (reply, new state), through a fixed pipeline.

handoff gate -> safety -> commands -> choices, quiz and flows -> understanding (answer, menu or fallback).
Each step is a function `step(engine, turn) -> bool` in its own module; True stops the pipeline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.content import Content
from bot.core import commands, crisis, flows, practice, understand
from bot.core.captions import CaptionChecker
from bot.core.i18n import LANGS, Strings
from bot.core.nlu import IntentClassifier, LanguageDetector
from bot.core.referrals import Referrals
from bot.core.safety import CrisisDetector, SafetyHit, SafetyRouter
from bot.core.safety_model import CrisisModel
from bot.core.text import clean_input, normalize
from bot.core.types import Choices, Inbound, Reply, State, Text

MAX_CHARS = 4000
RECENT_TURNS = 3  # the user's last messages, kept for risk cues across messages and a new case's transcript
RECENT_CHARS = 300
_UNSET = object()


@dataclass
class Turn:
    """One inbound message on its way through the pipeline."""

    inbound: Inbound
    text: str  # cleaned and capped at MAX_CHARS
    raw: str  # cleaned, uncapped (the safety step reads all of it)
    state: State
    reply: Reply
    _hit: object = field(default=_UNSET, repr=False)

    def crisis(self, engine: Engine) -> SafetyHit | None:
        """The safety verdict for this message, computed once per turn."""
        if self._hit is _UNSET:
            text = self.raw if self.inbound.kind == "text" else ""
            if text.startswith("/"):  # a command's own words are no crisis, but what follows may be ("/controle <caption>")
                text = commands.free_text(text)
            self._hit = engine.safety.detect(text, self.context(engine)) if text else None
        return self._hit  # type: ignore[return-value]

    def context(self, engine: Engine) -> list[str]:
        """The user's previous messages, unless a referral was just given (then only this message counts)."""
        now = engine.clock()
        if any(now - at < crisis.REFERRAL_COOLDOWN for at in self.state.referral_at.values()):
            return []
        return list(self.state.recent)


STEPS: tuple[Callable[[Engine, Turn], bool], ...] = (
    flows.handoff_gate,
    crisis.step,
    commands.step,
    flows.choice_step,
    practice.step,
    flows.forms_step,
    understand.step,
)


class Engine:
    def __init__(
        self,
        content: Content,
        classifier: IntentClassifier,
        detector: LanguageDetector,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        crisis_model: CrisisModel | None = None,
    ):
        self.content = content
        self.classifier = classifier
        self.detector = detector
        self.safety = CrisisDetector(SafetyRouter(content.lexicons), crisis_model)
        self.t = Strings(content.ui)
        self.referrals = Referrals(content, self.t)
        self.captions = CaptionChecker(content.captions, detector)
        self.rng = random.Random(seed)
        self.clock = clock

    def handle(self, inbound: Inbound, state: State) -> tuple[Reply, State]:
        state = state.copy()
        reply = Reply()
        raw = clean_input(inbound.text)
        if inbound.kind == "text" and len(raw) > MAX_CHARS:
            reply.append(Text(self.t("too_long", state.lang, limit=MAX_CHARS)))
        turn = Turn(inbound, raw[:MAX_CHARS], raw, state, reply)
        self._update_lang(state, inbound, turn.text)
        for step in STEPS:
            if step(self, turn):
                break
        if reply:
            state.offered = [p for part in reply for p in _payloads(part)]
        if inbound.kind == "text" and turn.text and not turn.text.startswith("/"):
            state.recent = [*state.recent, turn.text[:RECENT_CHARS]][-RECENT_TURNS:]
        return reply, state

    def _update_lang(self, state: State, inbound: Inbound, text: str) -> None:
        if not state.greeted and inbound.lang_hint in LANGS and not state.lang_fixed:
            state.lang = inbound.lang_hint
        if state.lang_fixed or inbound.kind != "text" or not text or text.startswith("/") or state.flow == "caption":
            return  # a caption to check may be in another language than the one the user speaks
        norm = normalize(text)
        words = len(norm.split())
        if len(norm) < 5:  # "a", "ok", "2": too short to tell a language
            return
        lang, margin = self.detector.detect(text)
        if lang and lang != state.lang and ((words >= 2 and margin > 0.35) or margin > 1.0):
            state.lang = lang


def _payloads(part: object) -> list[str]:
    if isinstance(part, Choices):
        return [c.payload for c in part.options]
    payloads = getattr(part, "payloads", None)
    return list(payloads) if payloads else []
