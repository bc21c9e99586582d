"""Conversation flows around the answers: the handoff gate, buttons and typed picks, the human intake, forget."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.core import commands, practice, texts
from bot.core.text import ascii_int, normalize
from bot.core.types import Action, Choice, Choices, HandoffNotice, Reply, State, Text, ToDesk

if TYPE_CHECKING:
    from bot.core.pipeline import Engine, Turn

PAYLOAD = re.compile(
    r"^(?:faq:[a-z0-9_]{1,40}|ans:[a-z0-9_]{1,20}:\d|quiz:(?:[1-9]|random|resume|menu)|cmd:[a-z]{1,12}"
    r"|human:(?:start|intake)|lang:(?:nl|fr|en)|forget:(?:yes|no)|menu:faq)$",
    re.ASCII,
)
YES = {
    "ja",
    "jaa",
    "jep",
    "yes",
    "yep",
    "yeah",
    "oui",
    "ouais",
    "zeker",
    "graag",
    "ja graag",
    "ja hoor",
    "oui merci",
    "yes please",
}
NO = {"nee", "neen", "nope", "no", "non", "nein", "nee bedankt", "nee dank je", "non merci", "no thanks", "liever niet"}
# Words that, after the bot offered a moderator or its closest FAQ entries, mean "none of these, a person please".
WANTS_PERSON = re.compile(
    r"\b(?:mens|iemand|persoon|moderator|medewerker|echte|geen van|niks van|niets van|helpt niet|help niet|"
    r"humain|personne|quelqu un|moderateur|aucune|aucun|ca n aide pas|"
    r"human|person|someone|somebody|real|none of|doesn t help|did not help|didn t help)\b"
)


def is_yes(norm: str) -> bool:
    return norm in YES or norm.split(" ", 1)[0] in {"ja", "yes", "oui", "jep", "yep", "ouais"}


def is_no(norm: str) -> bool:
    return norm in NO or norm.split(" ", 1)[0] in {"nee", "neen", "no", "non", "nope"}


# -- the handoff gate ---------------------------------------------------------------------------


def handoff_gate(engine: Engine, turn: Turn) -> bool:
    """While a moderator has the conversation, relay what the user writes; the bot still answers crises and a few commands."""
    state, reply, t = turn.state, turn.reply, engine.t
    if state.case_id is None:
        return False
    parsed = commands.parse(turn.text)
    if parsed and parsed[0] in commands.DURING_HANDOFF:
        return False
    if state.flow == "forget" and (turn.inbound.payload.startswith("forget:") or _yes_or_no(turn.text)):
        return False
    if turn.crisis(engine):
        return False  # the safety step answers, and relays the message to the moderator
    if parsed and parsed[0] == "start":  # a restarted client, not a message for the moderator
        reply.append(HandoffNotice(t("handoff_waiting", state.lang), state.case_id, "waiting"))
        return True
    relayed = turn.text or (f"[{turn.inbound.payload}]" if turn.inbound.payload else "")
    if relayed:
        reply.append(ToDesk("message", relayed))
        reply.append(HandoffNotice(t("handoff_relayed", state.lang), state.case_id, "relayed"))
    else:
        reply.append(HandoffNotice(t("handoff_waiting", state.lang), state.case_id, "waiting"))
    return True


def _yes_or_no(text: str) -> bool:
    norm = normalize(text)
    return is_yes(norm) or is_no(norm)


# -- buttons and typed picks --------------------------------------------------------------------


def choice_step(engine: Engine, turn: Turn) -> bool:
    """A button, or a number typed to pick from the choices shown last."""
    state, reply = turn.state, turn.reply
    payload = turn.inbound.payload if turn.inbound.kind == "choice" else ""
    if not payload and state.offered:
        pick = ascii_int(turn.text)
        if pick is not None and 1 <= pick <= len(state.offered):
            payload = state.offered[pick - 1]
    if not payload:
        return False
    reply.intent, reply.confidence = f"choice:{payload.split(':')[0]}", 1.0
    if not PAYLOAD.fullmatch(payload) or not apply_choice(engine, payload, state, reply):
        reply.append(Text(engine.t("button_expired", state.lang)))
        if state.quiz and not state.quiz.paused:
            reply.append(practice.question(engine, state))
    return True


def apply_choice(engine: Engine, payload: str, state: State, reply: Reply) -> bool:
    """Carry out a choice payload; False when it no longer applies."""
    from bot.core import understand

    kind, _, value = payload.partition(":")
    lang = state.lang
    if kind == "faq":
        if value not in engine.content.faq:
            return False
        state.flow, state.flow_data = None, {}
        understand.answer_faq(engine, value, state, reply)
    elif kind == "ans":
        item_id, _, pos = value.partition(":")
        run = state.quiz
        if not run or run.items[run.index] != item_id or int(pos) >= len(run.orders[run.index]):
            return False
        run.paused = False
        practice.record_answer(engine, int(pos), state, reply)
    elif kind == "quiz":
        if value == "resume":
            if not state.quiz:
                return False
            practice.resume(engine, state, reply)
        elif value == "menu":
            reply.append(texts.chapter_menu(engine.content, engine.t, lang))
        elif value == "random":
            practice.start(engine, state, reply, "quiz", None)
        elif int(value) in engine.content.chapters:
            practice.start(engine, state, reply, "quiz", int(value))
        else:
            return False
    elif kind == "cmd":
        if value not in commands.TABLE:
            return False
        commands.run(engine, value, "", state, reply)
    elif kind == "human":
        if value == "intake":
            start_intake(engine, state, reply)
        else:
            ask_human(engine, state, reply, "")
    elif kind == "lang":
        commands.run(engine, "lang", value, state, reply)
    elif kind == "forget":
        if state.flow != "forget":
            return False
        state.flow, state.flow_data = None, {}
        if value == "yes":
            reply.append(Action("forget"))
            reply.append(Text(engine.t("forget_done", lang)))
        else:
            reply.append(Text(engine.t("forget_kept", lang)))
    elif kind == "menu":
        reply.append(texts.faq_menu(engine.content, engine.t, lang))
    return True


# -- forms: forget, intake, deflect, the caption to check, and yes/no to what the bot just offered ----


def forms_step(engine: Engine, turn: Turn) -> bool:
    state, reply, text = turn.state, turn.reply, turn.text
    if state.flow == "caption" and text:
        check_caption(engine, state, reply, text)
        return True
    norm = normalize(text)
    if state.flow == "forget":
        if is_yes(norm) or is_no(norm):
            return apply_choice(engine, "forget:yes" if is_yes(norm) else "forget:no", state, reply)
        state.flow = None
        return False
    if state.flow == "intake" and text:
        if not norm:
            return False
        open_case(engine, state, reply, text)
        return True
    if state.flow == "deflect":
        state.flow = None
        if is_no(norm) or WANTS_PERSON.search(norm) or is_yes(norm):
            start_intake(engine, state, reply)
            return True
        prediction = engine.classifier.predict(text) if norm else None
        if prediction and prediction.confident and prediction.intent in engine.content.faq:
            return False  # a new question: answer it
        if len(norm.split()) >= 3:  # they told us what it is about: that is the intake
            open_case(engine, state, reply, text)
            return True
        start_intake(engine, state, reply)
        return True
    if "human:intake" in state.offered and (is_yes(norm) or WANTS_PERSON.search(norm)):
        start_intake(engine, state, reply)
        return True
    return False


def ask_human(engine: Engine, state: State, reply: Reply, query: str) -> None:
    """Deflect once with the closest FAQ entries, then the one-line intake."""
    lang = state.lang
    if state.flow == "deflect":
        start_intake(engine, state, reply)
        return
    if state.quiz:
        state.quiz.paused = True
    ranked = [i for i, p in engine.classifier.predict(query, top=5).ranking if i in engine.content.faq] if query else []
    suggestions = (ranked or list(engine.content.menus["popular"]))[:3]
    state.flow, state.flow_data = "deflect", {}
    options = [Choice(engine.content.faq[i].question[lang], f"faq:{i}") for i in suggestions if i in engine.content.faq]
    options.append(Choice(engine.t("human_still", lang), "human:intake"))
    reply.append(Choices(engine.t("deflect", lang), tuple(options)))


def start_intake(engine: Engine, state: State, reply: Reply) -> None:
    state.flow, state.flow_data = "intake", {}
    if state.quiz:
        state.quiz.paused = True
    reply.append(Text(engine.t("intake_prompt", state.lang)))


def open_case(engine: Engine, state: State, reply: Reply, text: str) -> None:
    state.flow, state.flow_data = None, {}
    reply.intent, reply.confidence = "human", 1.0
    reply.append(ToDesk("open", text, topic=text[:80], context=tuple(state.recent)))
    reply.append(HandoffNotice(engine.t("handoff_opened", state.lang), None, "opened"))


def stop(engine: Engine, state: State, reply: Reply) -> None:
    """/stop ends, in this order: a conversation with a moderator, a caption the bot asked for, a quiz, a form."""
    t, lang = engine.t, state.lang
    if state.case_id is not None:
        reply.append(ToDesk("close", t("desk_user_stopped", "en")))
        reply.append(HandoffNotice(t("handoff_user_stopped", lang), state.case_id, "closed"))
        state.case_id = None
    elif state.flow == "caption":  # asked on top of a quiz, which waits
        state.flow, state.flow_data = None, {}
        reply.append(Text(t("flow_cancelled", lang)))
    elif state.quiz:
        state.quiz = None
        reply.append(Text(t("quiz_stopped", lang)))
    elif state.flow:
        state.flow, state.flow_data = None, {}
        reply.append(Text(t("flow_cancelled", lang)))
    else:
        reply.append(Text(t("nothing_to_stop", lang)))


def ask_caption(engine: Engine, state: State, reply: Reply) -> None:
    """/controle without a caption: ask for it; the next message is the caption (a quiz waits meanwhile)."""
    if state.quiz:
        state.quiz.paused = True
    state.flow, state.flow_data = "caption", {}
    reply.append(Text(engine.t("caption_prompt", state.lang)))


def check_caption(engine: Engine, state: State, reply: Reply, caption: str) -> None:
    """The caption check, answered in the user's language; the corrected first line is in the caption's."""
    if state.flow == "caption":
        state.flow, state.flow_data = None, {}
        reply.intent, reply.confidence = "caption_check", 1.0
    check = engine.captions.check(caption, lang_hint=state.lang)
    reply.extend(texts.caption_reply(engine.content, engine.t, check, state.lang))


def ask_forget(engine: Engine, state: State, reply: Reply) -> None:
    state.flow, state.flow_data = "forget", {}
    t, lang = engine.t, state.lang
    reply.append(
        Choices(
            t("forget_confirm", lang), (Choice(t("forget_yes", lang), "forget:yes"), Choice(t("forget_no", lang), "forget:no"))
        )
    )
