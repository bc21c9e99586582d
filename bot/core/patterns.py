"""Patterns from the content data, held to whole words and indexed by the word each alternative starts with.

`re` finds a pattern that starts with a literal word fast, but a union of hundreds of alternatives it tries at every
position of the text. So each pattern is cut into its alternatives (a leading group spread out: "(?:kreeg|kregen) van"
-> "kreeg van", "kregen van"), each compiled alone on first use and filed under its first word; a text runs only the
alternatives whose first word it contains. The caption check uses it to stay under 2 ms on a 2,200-character caption.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

GLUED = re.compile(r"[\w@#]")  # a character that may not touch a matched word on the left
_TOKEN = re.compile(r"[#@]?[\w']+")
KEY = 4  # an alternative is filed under the first characters of its first word (fewer prefixes to look up per word)


class Index:
    """Patterns cut into alternatives, each filed under the word it starts with (see the module docstring)."""

    def __init__(self) -> None:
        self.sources: list[str] = []
        self._compiled: dict[int, re.Pattern[str]] = {}
        self.by_start: dict[str, list[int]] = {}
        self.always: list[int] = []  # alternatives with no word they must start with or contain ("\\d+ ?%", emoji)
        self.lengths: set[int] = set()
        self.signed: dict[int, str] = {}  # alternatives filed under a word that also need a sign ("% winst")
        self.number_led: set[int] = set()  # "\\d+ ?% korting": tried only where a number starts

    def add(self, patterns: Iterable[str], glued: re.Pattern[str] = GLUED) -> Words:
        ids = []
        for pattern in patterns:
            for alt in alternatives(pattern):
                ids.append(len(self.sources))
                self.sources.append(f"(?:{alt})(?!\\w)")
                if alt.startswith("\\d"):
                    self.number_led.add(ids[-1])
                start = literal_start(alt) or required_word(alt)
                sign = "" if start else required_sign(alt)
                keys = [start] if start else required_group(alt) or [sign]
                if sign and keys != [sign]:
                    self.signed[ids[-1]] = sign  # filed under its words, it still needs its sign
                for key in {k[:KEY] for k in keys if k}:
                    self.by_start.setdefault(key, []).append(ids[-1])
                    self.lengths.add(len(key))
                if not any(keys):
                    self.always.append(ids[-1])
        return Words(self, frozenset(ids), glued)

    def present(self, folded: str) -> frozenset[int]:
        """The alternatives worth running on this caption."""
        found = set(self.always)
        for sign in SIGNS:  # "\\d+ ?%" runs only on a caption with a "%"
            if sign in folded and sign in self.by_start:
                found.update(self.by_start[sign])
        tokens = set(_TOKEN.findall(folded))
        tokens |= {t[1:] for t in tokens if t[0] in "#@"} | {part for t in tokens if "'" in t for part in t.split("'")[1:]}
        for key in {t[:n] for t in tokens for n in self.lengths} & self.by_start.keys():
            found.update(self.by_start[key])
        found.difference_update([i for i, sign in self.signed.items() if sign not in folded])
        return frozenset(found)

    def regex(self, i: int) -> re.Pattern[str]:
        """Alternative `i`, compiled the first time a caption needs it."""
        found = self._compiled.get(i)
        if found is None:
            found = self._compiled[i] = re.compile(self.sources[i], re.MULTILINE)
        return found


_NUMBER_START = re.compile(r"(?<![\w@#])\d")


@functools.lru_cache(maxsize=16)
def number_starts(text: str) -> tuple[int, ...]:
    """Where a number starts that no word character touches on its left: the only places a number-led alternative
    can match (every other start is glued and refused), so it need not scan the whole caption."""
    return tuple(m.start() for m in _NUMBER_START.finditer(text))


@dataclass(frozen=True)
class Words:
    """Some patterns of the index, held to whole words: nothing word-like may touch a match on either side (the left
    edge is checked here: a leading lookbehind would cost `re` its fast start)."""

    index: Index
    ids: frozenset[int]
    glued: re.Pattern[str] = GLUED

    def finditer(self, text: str, present: frozenset[int]) -> list[re.Match[str]]:
        found = []
        for i in sorted(self.ids & present):
            if i in self.index.number_led:  # a match glued to a digit on its left is refused anyway
                found += [m for at in number_starts(text) if (m := self.index.regex(i).match(text, at))]
                continue
            regex, pos = self.index.regex(i), 0
            while m := regex.search(text, pos):
                if m.start() and self.glued.match(text, m.start() - 1):
                    pos = m.start() + 1
                    continue
                found.append(m)
                pos = max(m.end(), m.start() + 1)
        return sorted(found, key=lambda m: m.start())

    def search(self, text: str, present: frozenset[int]) -> re.Match[str] | None:
        for i in sorted(self.ids & present):  # in the order of the data
            if i in self.index.number_led:
                m = next((m for at in number_starts(text) if (m := self.index.regex(i).match(text, at))), None)
                if m:
                    return m
                continue
            regex, pos = self.index.regex(i), 0
            while m := regex.search(text, pos):
                if not (m.start() and self.glued.match(text, m.start() - 1)):
                    return m
                pos = m.start() + 1
        return None


def _scan(alt: str) -> Iterator[tuple[int, str, int]]:
    """(position, character, depth) of every character of a pattern outside escapes and [classes]; a parenthesis
    is reported at the depth outside it."""
    depth, klass, i = 0, False, 0
    while i < len(alt):
        ch = alt[i]
        if ch == "\\":
            i += 2
            continue
        if klass:
            klass = ch != "]"
        elif ch == "[":
            klass = True
        else:
            depth -= ch == ")"
            yield i, ch, depth
            depth += ch == "("
        i += 1


def split(pattern: str, sep: str = "|") -> list[str]:
    """`pattern` cut at its top-level `|` (not inside a group or a class)."""
    parts, last = [], 0
    for i, ch, depth in _scan(pattern):
        if ch == sep and depth == 0:
            parts.append(pattern[last:i])
            last = i + 1
    parts.append(pattern[last:])
    return parts


def alternatives(pattern: str, depth: int = 0) -> list[str]:
    """The top-level alternatives of `pattern`, with a leading group spread out so that each starts with a word:
    "(?:mijn )?(?:kreeg|kregen) van @x" -> ["mijn kreeg van @x", "mijn kregen van @x", "kreeg van @x", ...]."""
    out = []
    for alt in split(pattern):
        head = None if literal_start(alt) else re.match(r"[#@]?\(\?:", alt)
        close = closing(alt, head.end() - 3) if head and depth < 4 else -1
        if close > 0:
            start, options, rest = alt[: head.end() - 3], split(alt[head.end() : close]), alt[close + 1 :]  # type: ignore[union-attr]
            if rest[:1] == "?" and rest[1:2] not in ("?", "+"):  # (?:x)?y = xy|y
                spread = [start + o + rest[1:] for o in options] + [start + rest[1:]]
            elif rest[:1] not in ("?", "*", "+", "{"):  # (?:x|y)z = xz|yz
                spread = [start + o + rest for o in options]
            else:
                spread = []
            if spread:
                out += alternatives("|".join(spread), depth + 1)
                continue
        out.append(alt)
    return out


def closing(text: str, start: int) -> int:
    """The index of the parenthesis that closes the one at `start` (-1 if none)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "\\":
            continue
        if text[i] == "(" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == ")" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i
    return -1


def literal_start(alt: str) -> str:
    """The literal word an alternative must start with ("gekregen van @\\w+" -> "gekregen"), or "" when it can start
    with anything (a class, an emoji, an optional part)."""
    m = re.match(r"[#@]?[a-z0-9']+", alt)
    if not m:
        return ""
    word = m.group()
    if alt[m.end() : m.end() + 1] in ("?", "*", "{"):
        word = word[:-1]
    return word if word.strip("#@") else ""


_RUN = re.compile(r"[a-z]{3,}")
SIGNS = ("%", "€")


def required_sign(alt: str) -> str:
    """A sign every match of an alternative contains, outside any group ("\\d+ ?% (?:winst|rendement)" -> "%"), or ""."""
    for i, ch, depth in _scan(alt):
        if depth == 0 and ch in SIGNS and alt[i + 1 : i + 2] not in ("?", "*", "{"):
            return ch
    return ""


_GROUP_WORD = re.compile(r"[a-z][a-z']*(?: [a-z']+)*")


def required_group(alt: str) -> list[str]:
    """The words of a group of plain words every match of an alternative contains after a space, outside any other
    group ("\\d+ ?(?:euro|€) (?:bonus|inzet)" -> ["bonus", "inzet"]), or []. An alternative led by a number is filed
    under each of them: it runs only on captions with one of these words, not on every caption with a digit."""
    best: list[str] = []
    for i, ch, depth in _scan(alt):
        if ch == "(" and depth == 0 and alt[i - 1 : i] == " " and alt[i + 1 : i + 3] == "?:":
            close = closing(alt, i)
            options = split(alt[i + 3 : close]) if close > 0 else []
            after = alt[close + 1 : close + 2] if close > 0 else "?"
            if options and after not in ("?", "*", "{") and all(_GROUP_WORD.fullmatch(o) for o in options):
                words = [o.split()[0] for o in options]
                if min(map(len, words)) >= 3 and (not best or min(map(len, words)) > min(map(len, best))):
                    best = words  # the group of the longest words is the rarest
    return best


def required_word(alt: str) -> str:
    """A whole word that every match of an alternative contains, outside any group ("\\d+ ?(?:euro|€) gewonnen op" ->
    "gewonnen"), or "". An alternative that starts with a class or a number is filed under it, so it runs only on
    captions with that word (else `re` tries it at every position of a long caption)."""
    for i, ch, depth in _scan(alt):
        if depth == 0 and ch not in "()" and (alt[i - 1 : i] == " " or alt[i - 3 : i] == " )?") and (m := _RUN.match(alt, i)):
            word = m.group()[:-1] if alt[m.end() : m.end() + 1] in ("?", "*", "{") else m.group()
            if len(word) >= 3:  # a word after a space starts a word of the caption (what follows it may vary)
                return word
    return ""
