"""The safety step: a crisis message gets its referral first, in every state of the conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.safety import GUIDANCE_TOPICS, SafetyHit
from bot.core.types import Choice, Choices, HandoffNotice, Referral, State, Text, ToDesk

if TYPE_CHECKING:
    from bot.core.pipeline import Engine, Turn

REFERRAL_COOLDOWN = 600.0  # seconds before the full referral text is repeated for a topic
SAFETY_PRIORITY = {"acute": 3, "high": 2, "concern": 1}
LEXICON_LANGUAGE_BELOW = 0.35  # the detector's margin below which the lexicon phrase's language decides


def step(engine: Engine, turn: Turn) -> bool:
    hit = turn.crisis(engine)
    if not hit or hit.topic in GUIDANCE_TOPICS:  # content guidance is answered by the understanding step
        return False
    state, reply, t = turn.state, turn.reply, engine.t
    if hit.lang and not state.lang_fixed and engine.detector.detect(turn.text)[1] <= LEXICON_LANGUAGE_BELOW:
        # "mon copain me frappe" as a first message: French text and French-community lines. A phrase shared by the
        # languages ("un follower parle de suicide") does not overrule a clear reading of the message's language.
        state.lang = hit.lang
    reply.intent, reply.confidence = f"safety:{hit.topic}", 1.0
    if state.flow == "caption":  # the bot asked for a caption and got this: what follows is no caption either
        state.flow, state.flow_data = None, {}
    reply.append(referral(engine, state, hit))
    card = engine.referrals.card_for(turn.text, state.lang)  # "tot hoe laat is de chat van 1813 open?": its hours too
    if card:
        reply.append(card)
    state.last_question = turn.text[:200]  # "what if it's urgent?" after a question about a follower reads with it
    options = []
    in_quiz = bool(state.quiz and not state.quiz.paused)
    if state.case_id is not None:
        # In an open case: the message reaches the moderator too, and the case moves up the queue.
        reply.append(ToDesk("open", turn.text, topic=hit.topic, priority=SAFETY_PRIORITY[hit.severity], tags=(hit.topic,)))
        reply.append(HandoffNotice(t("handoff_relayed", state.lang), state.case_id, "relayed"))
    elif hit.acute:
        reply.append(ToDesk("open", "", topic=hit.topic, priority=SAFETY_PRIORITY["acute"], tags=(hit.topic,)))
        reply.append(HandoffNotice(t("handoff_safety_case", state.lang), None, "opened"))
    elif in_quiz:
        # No numbered choices here: the next "2" or "c" is still an answer to the same question.
        reply.append(Text(t("quiz_after_referral", state.lang)))
    else:
        options.append(Choice(t("human_button", state.lang), "human:intake"))
    if options:
        reply.append(Choices(t("after_referral", state.lang), tuple(options)))
    return True


def referral(engine: Engine, state: State, hit: SafetyHit) -> Referral:
    """The referral for a hit: the full text, or the short one when the topic was referred recently."""
    now = engine.clock()
    recent = now - state.referral_at.get(hit.topic, -1e12) < REFERRAL_COOLDOWN
    if not recent:
        state.referral_at[hit.topic] = now
    return engine.referrals.render(hit.topic, state.lang, hit.severity, short=recent, about=hit.about)
