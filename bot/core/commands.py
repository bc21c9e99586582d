"""Slash commands: one table of names per language, parsing, and what each command does.

The same table feeds Telegram's "/" menu and Discord's localized command names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core import flows, practice, texts
from bot.core.i18n import LANGS
from bot.core.text import normalize
from bot.core.types import Choice, Choices, Reply, State, Text

if TYPE_CHECKING:
    from bot.core.i18n import Strings
    from bot.core.pipeline import Engine, Turn

# canonical name -> the name users see per language, in menu order. Every name works in every language.
TABLE: dict[str, dict[str, str]] = {
    "start": {"nl": "start", "fr": "start", "en": "start"},
    "help": {"nl": "hulp", "fr": "aide", "en": "help"},
    "quiz": {"nl": "quiz", "fr": "quiz", "en": "quiz"},
    "exam": {"nl": "examen", "fr": "examen", "en": "exam"},
    "progress": {"nl": "voortgang", "fr": "progression", "en": "progress"},
    "review": {"nl": "herhaal", "fr": "revision", "en": "review"},
    "check": {"nl": "controle", "fr": "verifier", "en": "check"},
    "helplines": {"nl": "hulplijnen", "fr": "lignes", "en": "helplines"},
    "human": {"nl": "mens", "fr": "humain", "en": "human"},
    "lang": {"nl": "taal", "fr": "langue", "en": "language"},
    "stop": {"nl": "stop", "fr": "stop", "en": "stop"},
    "forget": {"nl": "vergeet", "fr": "oublier", "en": "forget"},
}
ALIASES = {"menu": "start", "arreter": "stop"}
NAMES: dict[str, str] = {**ALIASES, **{name: canon for canon, names in TABLE.items() for name in names.values()}}
FREE_TEXT = frozenset({"check"})  # commands whose argument is the user's own text
# Commands the bot keeps answering itself while a moderator has the conversation.
DURING_HANDOFF = frozenset({"stop", "helplines", "help", "forget"})


def menu(strings: Strings, lang: str) -> list[tuple[str, str]]:
    """(name, description) pairs for a platform's command menu in `lang`."""
    return [(names[lang], strings(f"cmd_{canon}", lang)) for canon, names in TABLE.items()]


def parse(text: str) -> tuple[str, str] | None:
    """('canonical', 'argument') for '/cmd arg' or '/cmd@bot arg'; ('unknown', name) for others.

    The argument starts after any white space, a line break too ("/controle" with a pasted caption below it)."""
    if not text.startswith("/") or len(text) < 2:
        return None
    if text[1].isspace():
        return ("unknown", "")
    head, *rest = text[1:].split(None, 1)
    name = normalize(head.split("@", 1)[0]).replace(" ", "")
    arg = rest[0].strip() if rest else ""
    return (NAMES[name], arg) if name in NAMES else ("unknown", name)


def free_text(text: str) -> str:
    """The words a user wrote after a command that takes free text ("/controle <caption>"), which the safety step reads
    as it reads any message; "" for other commands (a language code or chapter number is no message)."""
    parsed = parse(text)
    return parsed[1] if parsed and parsed[0] in FREE_TEXT else ""


def step(engine: Engine, turn: Turn) -> bool:
    parsed = parse(turn.text)
    if parsed is None:
        return False
    name, arg = parsed
    turn.reply.intent, turn.reply.confidence = f"/{name}", 1.0
    run(engine, name, arg, turn.state, turn.reply)
    return True


def run(engine: Engine, name: str, arg: str, state: State, reply: Reply) -> None:
    lang, t = state.lang, engine.t
    if name == "start":
        state.greeted = True
        reply.append(Text(t("greeting", lang)))
        if state.quiz:
            practice.resume(engine, state, reply)
        else:
            reply.append(texts.main_menu(t, lang))
    elif name == "help":
        reply.append(Text(t("help", lang)))
        reply.append(texts.main_menu(t, lang))
    elif name == "quiz":
        chapter = practice.chapter_in(engine, arg)
        if state.quiz and state.quiz.paused and chapter is None:
            practice.resume(engine, state, reply)
        elif chapter is not None:
            practice.start(engine, state, reply, "quiz", chapter)
        else:
            reply.append(texts.chapter_menu(engine.content, t, lang))
    elif name == "exam":
        practice.start(engine, state, reply, "exam", None)
    elif name == "review":
        if not state.review:
            reply.append(Text(t("review_empty", lang)))
        else:
            practice.start(engine, state, reply, "review", None)
    elif name == "check":
        if arg:
            flows.check_caption(engine, state, reply, arg)
        else:
            flows.ask_caption(engine, state, reply)
    elif name == "progress":
        reply.append(Text(texts.progress(engine.content, t, state)))
    elif name == "helplines":
        reply.append(Text(engine.referrals.overview(lang)))
    elif name == "human":
        flows.ask_human(engine, state, reply, "")
    elif name == "stop":
        flows.stop(engine, state, reply)
    elif name == "lang":
        choice = arg.strip().lower()[:2]
        if choice in LANGS:
            state.lang, state.lang_fixed = choice, True
            reply.append(Text(t("lang_set", choice)))
        else:
            reply.append(Choices(t("lang_pick", lang), tuple(Choice(t(f"lang_{code}", code), f"lang:{code}") for code in LANGS)))
    elif name == "forget":
        flows.ask_forget(engine, state, reply)
    else:
        reply.append(Text(t("unknown_command", lang)))
