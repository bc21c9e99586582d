"""The caption check (issue 17): does a post's disclosure follow the Belgian rules? Pure: text in, verdict out.

The rules are data, one file per language in knowledge/captions/ (each rule with its source); this module compiles
them once and applies all of them to every caption, because Flemish captions mix in English and French words. The
caption's language comes from the LanguageDetector; the language of its label decides `label_language`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.patterns import GLUED, Index, Words

LANGS = ("nl", "fr", "en")
FLAGS = (
    "commercial",
    "label_missing",
    "label_weak",
    "label_late",
    "label_language",
    "gambling",
    "children",
    "health_claim",
    "alcohol",
    "finance",
)
LABEL_FLAGS = frozenset({"label_missing", "label_weak", "label_late", "label_language"})
NOT_ALLOWED = frozenset({"gambling", "children"})
TO_FIX = LABEL_FLAGS | {"health_claim", "finance"}
DETECT_CHARS = 160  # the language of a caption shows in its first sentences (the detector's cost grows faster than this)
MIN_WORDS = 3  # fewer words (hashtags, handles and labels set aside) are too few to tell the language
MIN_MARGIN = 0.1  # per-gram log-odds over the runner-up; below it the detector is guessing

_COMBINING = re.compile(r"[\u0300-\u036f]")
_NAMED = re.compile(r"<<(\w+)>>")
_PUNCT = {"’": "'", "‘": "'", "´": "'", "`": "'", "“": '"', "”": '"', "–": "-", "—": "-", "｜": "|", "\u00a0": " "}
_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[\w.]*\w)?)")
_WORD = re.compile(r"[^\W\d_]{2,}")
_NOT_WORDS = re.compile(r"(?:https?://|www\.)\S+|[#@][\w.]+|\d+")
# A valid label word stands as a label, not as a noun in a sentence ("ik hou niet van reclame"), when it is a hashtag,
# opens a line, is set off by a separator, follows a lead phrase ("dit is een") or names the partner ("... voor @merk").
_SEP_BEFORE = re.compile(r"[|/•·:(\[\-*]\s*$")
_LINE_END = re.compile(r"[^\w\n]*(?:\n|$)")
_SEP_AFTER = re.compile(r"\s*[|:)\]/•·\-*]|\s(?:voor|van|for|pour|de|by|door|met|with|avec) @")
_DOTTED_HANDLE = re.compile(r"@\w+(?:\.\w+)+")  # "@kidoo.be": read as one word ("@kidoo_be"), so "[^.!?]" crosses it
TOPIC_GLUED = re.compile(r"[\w@]")  # a topic word counts as a hashtag too ("#beleggen", "#casino")
WITHIN = 300  # a `within` rule counts in a caption's opening, or further on in a sentence that tags an account


def fold(text: str) -> str:
    """Lower case without accents, compatibility forms unfolded ("𝐀𝐝" -> "ad", "publicité" -> "publicite")."""
    for fancy, plain in _PUNCT.items():  # str.replace is faster than str.translate on a long caption
        if fancy in text:
            text = text.replace(fancy, plain)
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).lower()


class Detector(Protocol):
    def detect(self, text: str) -> tuple[str | None, float]: ...


@dataclass(frozen=True)
class Evidence:
    rule: str  # the rule's id in knowledge/captions/<lang>.yml
    flag: str
    found: str  # the matched words as the caption writes them (folded when their positions do not line up)


@dataclass(frozen=True)
class Check:
    """The verdict on one caption, as the contract of `influbot check --json` states it."""

    verdict: str  # ok | fix | not_allowed
    flags: tuple[str, ...]  # in FLAGS order
    suggestion: str  # a corrected first line in the caption's language, when a label flag is set
    lang: str
    label_lang: str | None = None  # the language of the best valid label, if any
    evidence: tuple[Evidence, ...] = ()

    def found(self, flag: str) -> str:
        """The words that set `flag` ("#gifted"), or ""."""
        return next((e.found for e in self.evidence if e.flag == flag), "")

    def contract(self, caption_id: Any) -> dict[str, Any]:
        return {
            "id": caption_id,
            "verdict": self.verdict,
            "flags": list(self.flags),
            "suggestion": self.suggestion,
            "lang": self.lang,
        }


def expand(doc: dict[str, Any], patterns: Iterable[str]) -> list[str]:
    """Patterns with each `<<name>>` replaced by the file's word list `words.name`."""
    words = doc.get("words") or {}
    return [_NAMED.sub(lambda m: f"(?:{words[m.group(1)]})(?![-\\w])", p) for p in patterns]  # "stress-free" is none


def verdict_of(flags: Iterable[str]) -> str:
    found = set(flags)
    if found & NOT_ALLOWED:
        return "not_allowed"
    if found & TO_FIX:
        return "fix"
    return "ok"


@dataclass(frozen=True)
class Rule:
    id: str
    flag: str
    pattern: Words
    unless: Words  # a match does not count when one of these is in its sentence ("alcoholvrij", "wandelen helpt")
    also: Words  # cues that count as promotion for this rule only
    needs: str | None = None  # "commercial": only in a commercial caption; "promotion": commercial or promoting something
    requires: Words | None = None  # the rule counts only when one of these is in the caption too (a stake, a prize)
    within: bool = False  # only in the caption's opening, or in a sentence that tags an account (see WITHIN)
    raw: re.Pattern[str] | None = None  # matched on the caption as written (case counts: "code SMILE")

    def search(
        self, text: str, present: frozenset[int], promoted: bool, commercial: bool = True, written: str = ""
    ) -> re.Match[str] | None:
        if self.needs == "commercial" and not commercial:
            return None
        if self.needs == "promotion" and not promoted and not self.also.search(text, present):
            return None
        if self.requires is not None and self.requires.search(text, present) is None:
            return None
        if self.raw is not None:
            return self.raw.search(written)
        if not self.unless.ids & present and not self.within:
            return self.pattern.search(text, present)
        for match in self.pattern.finditer(text, present):
            start, end = _sentence(text, match.start(), match.end())
            if self.within and match.start() >= WITHIN and "@" not in text[start:end]:
                continue
            if not self.unless.ids & present or self.unless.search(text[start:end], present) is None:
                return match
        return None


@dataclass(frozen=True)
class Rules:
    """The data of every language, compiled."""

    index: Index
    labels: dict[str, str]  # valid label word -> its language
    label_words: Words
    lead_line: re.Pattern[str]  # what may open a line before a label: "dit is een", emoji, punctuation
    lead_end: re.Pattern[str]
    filler: re.Pattern[str]  # what may come before a label that still counts as "at the very start" ("betaalde")
    weak: Words
    thanks: Words
    negations: Words
    promotion: Words
    commercial: tuple[Rule, ...]
    topics: tuple[Rule, ...]

    @classmethod
    def build(cls, data: dict[str, dict[str, Any]]) -> Rules:
        docs = [data[lang] for lang in LANGS if lang in data]
        lead = "|".join(sorted((re.escape(w) for doc in docs for w in doc["labels"].get("lead", ())), key=len, reverse=True))
        lead = lead or "(?!)"
        prefix = "|".join(re.escape(w) for doc in docs for w in doc["labels"].get("prefix", ())) or "(?!)"
        index = Index()

        def union(path: tuple[str, ...]) -> Words:
            found = []
            for doc in docs:
                node: Any = doc
                for key in path:
                    node = (node or {}).get(key)
                found += list((node or {}).get("patterns", ()))
            return index.add(found)

        raw = [
            {**r, **{k: expand(doc, r.get(k, ())) for k in ("patterns", "unless", "also")}}
            for doc in docs
            for r in doc.get("rules", ())
        ]
        # An exception holds for its flag in every language: "alcohol-free" lifts the Dutch emoji rule too.
        unless = {flag: index.add(p for r in raw if r["flag"] == flag for p in r.get("unless", ())) for flag in FLAGS}
        rules = [
            Rule(
                r["id"],
                r["flag"],
                index.add(() if r.get("raw") else r["patterns"], glued=GLUED if r["flag"] == "commercial" else TOPIC_GLUED),
                unless[r["flag"]],
                index.add(r.get("also", ())),
                r.get("needs"),
                index.add(r["requires"]) if r.get("requires") else None,
                bool(r.get("within")),
                re.compile("|".join(f"(?:{p})" for p in r["patterns"]), re.MULTILINE) if r.get("raw") else None,
            )
            for r in raw
        ]
        labels = {word: doc["lang"] for doc in docs for word in doc["labels"]["valid"]["words"]}
        return cls(
            index=index,
            labels=labels,
            label_words=index.add((re.escape(w) for w in labels), glued=re.compile(r"[\w@]")),
            lead_line=re.compile(rf"[^\w\n]*(?:(?:{lead})[^\w\n]+){{0,3}}"),
            lead_end=re.compile(rf"(?<![\w@#])(?:{lead})\s+$"),
            filler=re.compile(rf"(?:[^\w]|_)*(?:(?:@[\w.]+|{prefix})(?:[^\w]|_)*)*"),
            weak=union(("labels", "weak")),
            thanks=union(("labels", "thanks")),
            negations=union(("negations",)),
            promotion=union(("promotion",)),
            commercial=tuple(r for r in rules if r.flag == "commercial"),
            topics=tuple(r for r in rules if r.flag != "commercial"),
        )


class CaptionChecker:
    """Compiled once from `Content.captions` (on first use); `check(text)` is pure and takes well under 2 ms."""

    def __init__(self, data: dict[str, dict[str, Any]], detector: Detector | None = None):
        self.data = data
        self.detector = detector

    @functools.cached_property
    def rules(self) -> Rules:
        return Rules.build(self.data)

    def check(self, text: str, lang_hint: str | None = None) -> Check:
        rules = self.rules
        # "geen samenwerking", "not sponsored", "zelf gekocht": neither a label nor a signal
        folded = fold(text)
        shown = text if len(text) == len(folded) else folded  # the caption as written, where positions line up
        if "." in folded and "@" in folded:
            folded = _DOTTED_HANDLE.sub(lambda m: m.group().replace(".", "_"), folded)
        written = text if shown is text else ""
        present = rules.index.present(folded)
        folded = _blank(folded, [m.span() for m in rules.negations.finditer(folded, present)])
        evidence: list[Evidence] = []
        flags: set[str] = set()
        valid = [(m.start(), m.group()) for m in rules.label_words.finditer(folded, present) if self._stands_as_label(folded, m)]
        quoted = {pos: shown[pos : pos + len(word)] for pos, word in valid}
        weak = rules.weak.finditer(folded, present)
        for rule in rules.commercial:
            match = rule.search(folded, present, promoted=True, written=written)
            if match:
                evidence.append(Evidence(rule.id, "commercial", _quote(written if rule.raw else shown, match)))
                if "@" in match.group():  # a signal that names the partner is all the suggestion needs
                    break
        if evidence or valid or weak:
            flags.add("commercial")
            # a thank-you to a tagged account ("bedankt @merk") weighs as a weak label only on a commercial post
            weak = sorted([*weak, *rules.thanks.finditer(folded, present)], key=lambda m: m.start())
        promoted = "commercial" in flags or rules.promotion.search(folded, present) is not None
        for rule in rules.topics:
            if rule.flag not in flags and (match := rule.search(folded, present, promoted, "commercial" in flags, written)):
                flags.add(rule.flag)
                evidence.append(Evidence(rule.id, rule.flag, _quote(written if rule.raw else shown, match)))

        labels = [(pos, pos + len(word)) for pos, word in valid]
        head = folded[: DETECT_CHARS * 3]  # enough words for the detector, even with labels and hashtags set aside
        lang = self._language(_blank(head, labels), _blank(head, labels + [m.span() for m in weak]), valid, lang_hint)
        label_lang = None
        if "commercial" in flags:
            if valid:
                early = [(pos, word) for pos, word in valid if self._early(folded, pos, weak)]
                pos, best = (early or valid)[0]
                label_lang = rules.labels[best]
                if not early:
                    flags.add("label_late")
                    evidence.append(Evidence(f"{label_lang}_valid", "label_late", quoted[pos]))
                if all(rules.labels[word] != lang for _, word in valid):
                    flags.add("label_language")
                    evidence.append(Evidence(f"{label_lang}_valid", "label_language", quoted[pos]))
            elif weak:
                flags.add("label_weak")
                evidence.append(Evidence("weak", "label_weak", _quote(shown, weak[0])))
            else:
                flags.add("label_missing")
        ordered = tuple(f for f in FLAGS if f in flags)
        suggestion = self.suggestion(text, lang, evidence) if flags & LABEL_FLAGS else ""
        return Check(verdict_of(ordered), ordered, suggestion, lang, label_lang, tuple(evidence))

    def _stands_as_label(self, folded: str, m: re.Match[str]) -> bool:
        start = m.start()
        if start and folded[start - 1] == "#":
            return True
        line_start = folded.rfind("\n", 0, start) + 1
        if start - line_start < 80 and self.rules.lead_line.fullmatch(folded, line_start, start):
            return True
        before = folded[max(line_start, start - 40) : start]
        if _SEP_BEFORE.search(before) or self.rules.lead_end.search(before):
            return True
        last = before.rstrip()[-1:]
        if last and not last.isalnum() and last not in "'\"" and _LINE_END.match(folded, m.end()):
            return True  # "..., reclame" or "... 🚗 Advertentie." closing a line
        return _SEP_AFTER.match(folded, m.end()) is not None

    def _early(self, folded: str, pos: int, weak: list[re.Match[str]]) -> bool:
        """A valid label at the very start: on the first line, with only handles, weak labels or lead words before it."""
        start = len(folded) - len(folded.lstrip())
        line_end = folded.find("\n", start)
        if line_end != -1 and pos > line_end:
            return False
        prefix = folded[start:pos]
        for m in weak:  # "#gifted #advertentie ..." still starts with a label
            if m.end() <= pos:
                prefix = prefix.replace(m.group(), " ")
        return self.rules.filler.fullmatch(prefix) is not None

    def _language(self, unlabelled: str, bare: str, valid: list[tuple[int, str]], hint: str | None) -> str:
        """The caption's language, hashtags, handles and labels set aside (weak ones too, when enough words remain);
        when unsure, the label's language or the hint."""
        fallback = self.rules.labels[valid[0][1]] if valid else (hint if hint in LANGS else "nl")
        sample = _NOT_WORDS.sub(" ", bare)[:DETECT_CHARS]
        if len(_WORD.findall(sample)) < MIN_WORDS:
            sample = _NOT_WORDS.sub(" ", unlabelled)[:DETECT_CHARS]
        if self.detector is None or len(_WORD.findall(sample)) < MIN_WORDS:
            return fallback
        lang, margin = self.detector.detect(sample)
        return lang if lang in LANGS and margin >= MIN_MARGIN else fallback

    def suggestion(self, text: str, lang: str, evidence: list[Evidence]) -> str:
        """The corrected first line: the valid label of the caption's language, then the partner's @handle."""
        template = (self.data.get(lang) or self.data["nl"])["suggestion"]
        handle = _partner(text, evidence)
        kind = "own" if any(e.rule.endswith("own_brand") for e in evidence) else "partner"
        if not handle:
            return (
                template["label"] if kind == "partner" else f"{template['label']} | {template['own'].format(handle='').strip()}"
            )
        return f"{template['label']} | {template[kind].format(handle=handle)}"


# a separator or an emoji followed by a space ends a clause too ("... probeer het eens 🌳 Deze thee ...")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n|(?<=\s)[|•](?=\s)|(?<=[\U0001F300-\U0001FAFF\u2600-\u27BF])\s")


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (or line) around text[start:end]."""
    left = 0
    for m in _SENTENCE_END.finditer(text, max(0, start - 300), start):
        left = m.end()
    after = _SENTENCE_END.search(text, end)
    return left, after.start() if after else len(text)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the given spans replaced by spaces (same length, so positions stay)."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        end = min(end, len(chars))
        if start < end:
            chars[start:end] = " " * (end - start)
    return "".join(chars)


def _quote(shown: str, match: re.Match[str]) -> str:
    return shown[match.start() : match.end()].strip()


def _partner(text: str, evidence: list[Evidence]) -> str:
    """The @handle the commercial signal names ("gekregen van @merk"), else the first @handle of the caption."""
    handles = [m.group() for m in _HANDLE.finditer(text)]
    if not handles:
        return ""
    for e in evidence:
        if "@" in e.found:
            named = e.found[e.found.index("@") :].split()[0].rstrip(".,!?:;)").lower()
            original = next((h for h in handles if h.lower() == named), None)
            if original:
                return original
    return handles[0]
