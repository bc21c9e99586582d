"""The one referral text: rendered from referrals/ for every channel alike."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.content import Content, Helpline
from bot.core.i18n import Strings
from bot.core.text import normalize
from bot.core.types import Referral, Text

EMERGENCY = "emergency_112"
SHORT_ASK = 6  # words: a name that is also an everyday word ("awel", "106") counts only in a message this short
ASK_WORDS = 14  # a longer message that names a line asks something else ("moet ik 1813 onder mijn video zetten, ...")
# what a question about one line asks: its number, hours, cost, who it is for ("awel nummer", "is 1813 gratis?")
_ASKS = re.compile(
    r"\b(?:nummer|nr|number|numero|num|tel\w*|bel\w*|call\w*|appel\w*|joindre|chat\w*|open\w*|ouvert\w*|uur|uren"
    r"|heure\w*|hours?|wanneer|hoe laat|when|quand|gratis|free|gratuit\w*|anoniem|anonymous|anonyme|wie|who|qui|what"
    r"|wat|quoi|quel\w*|website|site|bereik\w*|reach|contact\w*|noodnummer|emergency|urgence|voor|for|pour)\b"
)


def _alternation(words: Iterable[str]) -> re.Pattern[str]:
    """Any of `words` as whole words, the longest first; a pattern that never matches when there are none."""
    ordered = sorted(set(words), key=len, reverse=True)
    return re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, ordered))})(?!\w)" if ordered else r"(?!)")


def community(lang: str) -> str:
    """French speakers get the French-community lines; Dutch and English speakers the Flemish ones."""
    return "fr" if lang == "fr" else "nl"


class Referrals:
    def __init__(self, content: Content, strings: Strings):
        self.content = content
        self.t = strings
        # alias -> line; one alternation over every alias (longest first), one over those that are no everyday word
        self._names = {normalize(a.lstrip("~")): line.id for line in content.helplines.values() for a in line.aliases}
        plain = [a for line in content.helplines.values() for a in line.aliases if not a.startswith("~")]
        self._any, self._plain = (_alternation(names) for names in (self._names, map(normalize, plain)))

    def asked_about(self, text: str) -> str | None:
        """The helpline a message asks about by name or number ("wat is het nummer van Tele-Onthaal?"), or None."""
        norm = normalize(text)
        words = len(norm.split())
        if words > ASK_WORDS or not (words <= 2 or _ASKS.search(norm)):
            return None
        found = (self._any if words <= SHORT_ASK else self._plain).findall(norm)
        named = {self._names[m] for m in found if m in self._names}
        return named.pop() if len(named) == 1 else None

    def card_for(self, text: str, lang: str) -> Text | None:
        """The card of the line `text` asks about, or None."""
        line = self.asked_about(text)
        return Text(self.card(line, lang), helpline=line) if line else None

    def card(self, helpline_id: str, lang: str) -> str:
        """One line's card: how to reach it, who it is for, when it is open; 112 for immediate danger."""
        line, t = self.content.helplines[helpline_id], self.t
        parts = [self.line(line, lang).removeprefix("• ")]
        if line.audience.get(lang):
            parts.append(t("card_for", lang, audience=line.audience[lang]))
        if line.hours.get(lang):
            parts.append(t("card_hours", lang, hours=line.hours[lang]))
        if helpline_id != EMERGENCY:
            parts.append(t("ref_emergency", lang, number=self.content.helplines[EMERGENCY].number))
        return "\n".join(parts)

    def route(self, topic: str, lang: str, acute: bool = False) -> list[str]:
        ids = [i for i in self.content.routes[topic][community(lang)] if i != EMERGENCY]
        return [EMERGENCY, *ids] if acute or topic == "acute_danger" else [*ids, EMERGENCY]

    def line(self, line: Helpline, lang: str, compact: bool = False) -> str:
        """One helpline as a bullet: how to reach it and, unless compact, whether it is free and open now.
        An unverified number is never shown (the website or chat instead); web-only services get no hours note."""
        t = self.t
        number = line.number if not line.unverified else None
        name, note = line.name, line.note.get(lang)
        if note:  # "Awel (in Dutch)"; "JAC (jongerenaanbod CAW; in Dutch)"
            name = f"{name[:-1]}; {note})" if name.endswith(")") else f"{name} ({note})"
        name += " :" if lang == "fr" else ":"  # French puts a space before the colon
        if compact:
            reach = t("ref_call", lang, number=number) if number else (line.website or line.chat)
            return f"• {name} {reach}"
        bits = []
        if number:
            bits.append(t("ref_call", lang, number=number))
        if line.chat and line.chat != line.website:
            bits.append(t("ref_chat", lang, chat=line.chat))
        if line.website:
            bits.append(line.website)
        facts = []
        if line.free and line.anonymous:
            facts.append(t("ref_free_anonymous", lang))
        elif line.free:
            facts.append(t("ref_free", lang))
        if line.always_open:
            facts.append(t("ref_always_open", lang))
        elif number or line.chat:
            facts.append(t("ref_check_hours", lang))
        return f"• {name} {' · '.join(bits)}" + (f" ({', '.join(facts)})" if facts else "")

    def fill(self, text: str) -> str:
        """Resolve {helpline_id.field} placeholders from the registry."""
        return text.format(**self.content.helplines)

    def render(self, topic: str, lang: str, severity: str = "high", short: bool = False, about: str = "") -> Referral:
        """The referral text for a topic. A creator asking about a follower gets the follower topic's lines
        (`about`) and, where the template has one, the guidance and copyable reply for that topic."""
        tpl = dict(self.content.templates[topic][lang])
        line_topic = about if topic == "creator_follower" and about in self.content.routes else topic
        if line_topic != topic:
            tpl.update((tpl.get("by_topic") or {}).get(about) or {})
        acute = severity == "acute" or topic == "acute_danger"
        ids = self.route(line_topic, lang, acute)
        danger = self.t("ref_emergency", lang, number=self.content.helplines[EMERGENCY].number)
        lines = [self.line(self.content.helplines[i], lang, compact=short) for i in ids if i != EMERGENCY]
        if short:  # within the cooldown: one sentence, but every line of the topic still there (112 first if acute)
            text = "\n".join([self.fill(tpl["short"]), *([danger, *lines] if acute else [*lines, danger])])
            return Referral(topic, severity, tuple(ids), text, short=True)
        blocks = [self.fill(tpl["intro"])]
        if tpl.get("guidance"):
            blocks.append("\n".join(f"• {self.fill(g)}" for g in tpl["guidance"]))
        if tpl.get("copy"):
            blocks.append(f"{self.t('ref_copy_label', lang)}\n{self.fill(tpl['copy'])}")
        if acute:
            blocks.insert(1, danger)
            blocks.append("\n".join(lines))
        else:
            blocks.append("\n".join(lines))
            blocks.append(danger)
        if tpl.get("outro"):
            blocks.append(self.fill(tpl["outro"]))
        return Referral(topic, severity, tuple(ids), "\n\n".join(blocks))

    def overview(self, lang: str) -> str:
        """The /hulplijnen list: the main lines for the user's language community."""
        ids = self.content.routes["distress"][community(lang)] + self.content.routes["suicide"][community(lang)]
        ids += self.content.routes["violence"][community(lang)] + ["child_focus_116000"]
        seen: list[str] = []
        for i in ids:
            if i not in seen and i != EMERGENCY and i in self.content.helplines:
                seen.append(i)
        lines = [self.line(self.content.helplines[i], lang) for i in seen]
        emergency = self.content.helplines[EMERGENCY]
        return "\n".join(
            [self.t("helplines_intro", lang), "", *lines, "", self.t("ref_emergency", lang, number=emergency.number)]
        )
