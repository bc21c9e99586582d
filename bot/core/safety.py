"""Crisis detection: per-language lexicons of phrase patterns over normalized text.

Pattern language (see referrals/lexicon/*.yml): space-separated tokens matching consecutive
words; `a|b` alternatives; `word*` prefix; `...` a gap of 0-3 words; `(x y|z)` multi-word group.
Exclusions (figurative use, negation) are patterns whose words are masked before matching.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.patterns import split
from bot.core.safety_model import CrisisModel, CrisisScore, join_context
from bot.core.text import normalize

SEVERITIES = ("concern", "high", "acute")
TOPICS = (  # the more specific topic first: it wins a tie
    "suicide",
    "self_harm",
    "acute_danger",
    "sexual_violence",
    "sextortion",
    "violence",
    "addiction",
    "eating_disorder",
    "distress",
    "online_hate",
    "creator_follower",
    "creator_content",
)
CREATOR_TOPICS = ("creator_follower", "creator_content")
# A creator making content about a sensitive theme is not in crisis: they get safe-posting guidance as an answer,
# not a referral (bot/core/understand.py), and no crisis event is recorded.
GUIDANCE_TOPICS = ("creator_content",)
# A crisis told about a follower ("een fan stuurt me dat ze zichzelf snijdt") is a creator asking for help.
ABOUT_FOLLOWER = ("suicide", "self_harm", "eating_disorder", "sextortion", "violence", "sexual_violence", "addiction", "distress")
_MASK = "_"


@dataclass(frozen=True)
class SafetyHit:
    topic: str
    severity: str
    phrase: str  # the lexicon pattern, or "model" / "context" for the learned detector
    lang: str
    about: str = ""  # creator_follower: the follower's topic, which decides the helplines

    @property
    def acute(self) -> bool:
        return self.severity == "acute" or self.topic == "acute_danger"


def _alt(token: str) -> str:
    if token.startswith("(") and token.endswith(")"):
        return "(?:" + "|".join(_sequence(part) for part in split(token[1:-1], "|")) + ")"
    words = []
    for word in token.split("|"):
        if word.endswith("*"):
            words.append(re.escape(word[:-1]) + r"[a-z0-9]*")
        else:
            words.append(re.escape(word))
    return "(?:" + "|".join(words) + ")"


def _sequence(pattern: str) -> str:
    regex, gap = "", False
    for token in (t for t in split(pattern.strip(), " ") if t):
        if token == "...":
            gap = True
            continue
        if regex:
            regex += r"(?: \S+){0,3} " if gap else " "
        gap = False
        regex += _alt(token)
    return regex


def first_words(pattern: str) -> set[str] | None:
    """Words a match must start with ("snij*" for a prefix); None when a pattern can start anywhere."""
    tokens = [t for t in split(pattern.strip(), " ") if t]
    if not tokens or tokens[0] == "...":
        return None
    head = tokens[0]
    if head.startswith("(") and head.endswith(")"):
        words: set[str] = set()
        for part in split(head[1:-1], "|"):
            sub = first_words(part)
            if sub is None:
                return None
            words |= sub
        return words
    return set(head.split("|"))


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile one lexicon pattern to a regex over normalized text."""
    return re.compile(r"(?<!\S)" + _sequence(pattern) + r"(?!\S)")


class PatternIndex:
    """Finds which patterns could match a text, by the word each must start with."""

    def __init__(self, patterns: list[str]):
        self.by_word: dict[str, list[int]] = {}
        self.by_prefix: dict[str, list[int]] = {}
        self.anywhere: list[int] = []
        for i, pattern in enumerate(patterns):
            words = first_words(pattern)
            if words is None:
                self.anywhere.append(i)
                continue
            for word in words:
                table = self.by_prefix if word.endswith("*") else self.by_word
                table.setdefault(word.rstrip("*"), []).append(i)
        self.prefix_lengths = sorted({len(p) for p in self.by_prefix})

    def candidates(self, words: set[str]) -> list[int]:
        found = set(self.anywhere)
        lengths = self.prefix_lengths
        for word in words:
            found.update(self.by_word.get(word, ()))
            for end in lengths:
                if end > len(word):
                    break
                found.update(self.by_prefix.get(word[:end], ()))
        return sorted(found)


@dataclass(frozen=True)
class _Phrase:
    source: str
    topic: str
    severity: str
    lang: str


class SafetyRouter:
    """Finds the most serious crisis topic in a message, in any of the lexicon languages."""

    def __init__(self, lexicons: dict[str, dict[str, Any]]):
        self.phrases: list[_Phrase] = []
        self.creator_words: list[re.Pattern[str]] = []  # follower, fan, abonné ...
        self.help_seeking: list[re.Pattern[str]] = []  # "wat moet ik doen", "how do I help" ...
        self.low_mood: list[str] = []  # first-person distress that no phrase names: "ik voel me zo alleen"
        self.acute_cues: list[str] = []  # means or a time: "vanavond", "pillen liggen klaar", "on the roof"
        exclusions: list[str] = []
        for lang, lex in lexicons.items():
            for raw in lex.get("phrases") or []:
                self.phrases.append(_Phrase(raw["match"], raw["topic"], raw["severity"], lang))
            exclusions.extend(lex.get("exclusions") or [])
            self.creator_words += [compile_pattern(p) for p in lex.get("creator_words") or []]
            self.help_seeking += [compile_pattern(p) for p in lex.get("help_seeking") or []]
            self.low_mood += lex.get("low_mood") or []
            self.acute_cues += lex.get("acute_cues") or []
        self.exclusions = exclusions  # compiled on first use: start-up stays fast
        self.phrase_index = PatternIndex([p.source for p in self.phrases])
        self.exclusion_index = PatternIndex(exclusions)

    def _mask(self, norm: str, words: set[str]) -> str:
        for i in self.exclusion_index.candidates(words):
            norm = compile_pattern(self.exclusions[i]).sub(lambda m: " ".join(_MASK for _ in m.group(0).split()), norm)
        return norm

    def matches(self, text: str) -> list[SafetyHit]:
        return self._matches(normalize(text))

    def figurative(self, text: str) -> bool:
        """True when an exclusion (a known figurative, news or fiction use) matches the text."""
        norm = normalize(text)
        return any(compile_pattern(self.exclusions[i]).search(norm) for i in self.exclusion_index.candidates(set(norm.split())))

    def _matches(self, norm: str) -> list[SafetyHit]:
        words = set(norm.split())
        candidates = self.phrase_index.candidates(words)
        if not candidates:
            return []
        norm = self._mask(norm, words)
        hits = (self.phrases[i] for i in candidates)
        return [SafetyHit(p.topic, p.severity, p.source, p.lang) for p in hits if compile_pattern(p.source).search(norm)]

    def detect(self, text: str) -> SafetyHit | None:
        norm = normalize(text)
        hits = self._matches(norm)
        if not hits:
            return None
        if all(h.severity == "concern" for h in hits) and laughing(text, norm):
            return None  # "ik haat mijn leven 😂", "verslaafd aan die chips lol": only general words, said laughing
        best = max(hits, key=_rank)
        if best.topic == "creator_content":  # "ik maak een video over pesten ... en ik wil dood": the person first
            personal = [h for h in hits if h.topic in ABOUT_FOLLOWER and h.severity != "concern" and _statement(h.phrase)]
            best = max(personal, key=_rank) if personal else best
        if best.topic in (*ABOUT_FOLLOWER, "acute_danger") and self._about_follower(norm):  # acute: 112 first
            about = "suicide" if best.topic == "acute_danger" else best.topic  # "tonight is the night", said of a follower
            return SafetyHit("creator_follower", best.severity, best.phrase, best.lang, about=about)
        if best.topic == "creator_follower" and not best.about:
            about = max((h for h in hits if h.topic in ABOUT_FOLLOWER), key=_rank, default=None)
            return SafetyHit(best.topic, best.severity, best.phrase, best.lang, about=about.topic if about else "")
        return best

    def distressed(self, text: str) -> bool:
        """First-person low mood ("ik kan niet meer", "nobody gets me"): a warm reply, not the out-of-scope text."""
        norm = normalize(text)
        norm = self._mask(norm, set(norm.split()))  # "ik kan niet meer inloggen" is no low mood
        if laughing(text, norm):  # "ik kan ni meer 😂😂, die filter op men hond"
            return False
        return bool(norm) and any(compile_pattern(p).search(norm) for p in self.low_mood)

    def acute_cue(self, text: str) -> bool:
        norm = normalize(text)
        return any(compile_pattern(p).search(norm) for p in self.acute_cues)

    def _about_follower(self, norm: str) -> bool:
        return any(r.search(norm) for r in self.creator_words) and any(r.search(norm) for r in self.help_seeking)


LAUGHTER = re.compile("[\U0001f602\U0001f923\U0001f639\U0001f606\U0001f480\U0001f605]")  # 😂 🤣 😹 😆 💀 😅
SERIOUS = re.compile(
    r"\b(?:nee echt|neen echt|serieus|zonder grap|grapje maar|no really|for real though|but seriously|seriously though|"
    r"joking aside|jokes aside|sans rire|non mais serieux|serieusement|blague a part)\b"
)
LAUGHTER_WORDS = frozenset({"haha", "hahaha", "hahah", "lol", "lool", "mdr", "ptdr", "lmao", "lmfao", "xd", "rofl", "hihi"})


def laughing(text: str, norm: str) -> bool:
    """Said laughing: a laughing emoji or word. Only general (concern) wording is read as a joke then; anything
    graver keeps its referral, and the learned detector still reads the message."""
    if SERIOUS.search(norm):  # "haha ... nee echt": the joke was the way in
        return False
    return bool(LAUGHTER.search(text)) or not LAUGHTER_WORDS.isdisjoint(norm.split())


def _statement(phrase: str) -> bool:
    """A construction ("wil ... dood") says something about the writer; a topic word or term ("zelfmoord*",
    "self harm") may just be the subject of a video."""
    return "..." in phrase


def _rank(hit: SafetyHit) -> tuple[int, int, int, int, int]:
    """Acute first; then a creator asking about others; then severity; then the longer phrase; then topic order."""
    return (
        int(hit.acute),
        int(hit.topic in CREATOR_TOPICS),
        SEVERITIES.index(hit.severity),
        len(hit.phrase.split()),
        -TOPICS.index(hit.topic),
    )


# -- the union: lexicon, learned model, conversation ----------------------------------------------

MODEL_CHARS = 4000
MODEL_THRESHOLD = 0.55  # P(crisis) for a referral from the model alone (calibrated on the dev set, see README)
CONTEXT_THRESHOLD = 0.65  # the same, read together with the previous messages
FIGURATIVE_THRESHOLD = 0.97  # the same, when the lexicon knows the wording as figurative, news or fiction
SPECIFIC_THRESHOLD = 0.7  # a lexicon hit that is not acute takes the model's topic when it is this sure of it
SHORT_WORDS = 8  # a model-only hit on a message this short ("2 denk ik", "and if i just ignore them?") ...
SHORT_SHARE = 0.35  # ... needs the model this sure of one topic: a few words spread over every topic are noise
SPREAD_SHARE = 0.25  # a model-only hit of any length spread this thin over the topics ...
SPREAD_SURE = 0.7  # ... and below this is noise (both calibrated on the dev sets)
SURE_ALONE = 0.9  # a short model-only hit below this must also read as a crisis together with the turns before
DISTRESS_THRESHOLD = 0.5  # below a referral, a warm reply when the bot did not understand the message
LIFE_TOPICS = ("suicide", "self_harm")  # with means or a time these are acute
GENERAL_TOPICS = ("distress",)  # a lexicon hit this general takes the model's more specific topic


def _no_topic(score: CrisisScore) -> bool:
    """The model reads "not calm" but spreads it thin over every topic: noise, for a referral and a warm reply alike."""
    return score.share < SPREAD_SHARE and score.probability < SPREAD_SURE


class CrisisDetector:
    """Either layer firing gives the referral: the lexicon (precise, explainable) or the learned model (wording it
    never saw). The previous messages count too, unless a referral was just given."""

    def __init__(self, router: SafetyRouter, model: CrisisModel | None = None):
        self.router = router
        self.model = model

    def detect(self, text: str, before: Sequence[str] = ()) -> SafetyHit | None:
        hit = self.router.detect(text)
        if hit is None or not hit.acute:  # the model runs where it can change the outcome
            learned, sure = self._learned(text, before)
            specific = learned is not None and learned.topic not in (*GENERAL_TOPICS, *LIFE_TOPICS, "creator_follower")
            if hit and learned and specific and sure >= SPECIFIC_THRESHOLD:
                # a lexicon phrase that fits several topics ("kan niet stoppen", "ik kan niet meer") takes the topic
                # the model is sure of
                hit = dataclasses.replace(hit, topic=learned.topic, about=learned.about)
            hit = hit or learned
        if hit and hit.severity != "acute" and self._acute(hit, text, before):
            hit = dataclasses.replace(hit, severity="acute")
        return hit

    def _learned(self, text: str, before: Sequence[str]) -> tuple[SafetyHit | None, float]:
        """The model's hit (or None) and how sure it is of the hit's topic."""
        if self.model is None or not normalize(text):
            return None, 0.0
        if len(text) > MODEL_CHARS:  # a 1 MB paste: the model reads its start and its end (the lexicon reads it all)
            text = f"{text[: MODEL_CHARS // 2]} {text[-MODEL_CHARS // 2 :]}"
        score = self.model.score(text)
        source = "model"
        if score.probability < MODEL_THRESHOLD and before:
            score, source = self.model.score(join_context(list(before), text)), "context"
            if score.probability < CONTEXT_THRESHOLD:
                return None, 0.0
        elif score.probability < MODEL_THRESHOLD:
            return None, 0.0
        if score.probability < FIGURATIVE_THRESHOLD and self.router.figurative(text):
            return None, 0.0  # "ik ben doodop": a known figurative use needs a sure model
        short = len(normalize(text).split()) <= SHORT_WORDS
        if source == "model" and short and score.share < SHORT_SHARE:
            return None, 0.0
        if source == "model" and _no_topic(score):
            return None, 0.0  # "I've been filming my garden for a few years now. ...": not calm, but no topic either
        unsure = source == "model" and short and before and score.probability < SURE_ALONE
        if unsure and self.model.score(join_context(list(before), text)).probability < MODEL_THRESHOLD:
            return None, 0.0  # "and if i just ignore them?" after two questions about fines reads calm
        about = self.model.about(text) if score.topic == "creator_follower" else ""
        return SafetyHit(score.topic, "high", source, "", about=about), score.share

    def _acute(self, hit: SafetyHit, text: str, before: Sequence[str]) -> bool:
        topic = hit.about or hit.topic
        return topic in LIFE_TOPICS and hit.topic != "creator_follower" and self.router.acute_cue(" ".join([*before[-1:], text]))

    def distressed(self, text: str, before: Sequence[str] = ()) -> bool:
        """First-person distress that is not a crisis referral: a warm reply with the general lines. A model reading
        must hold with the previous message too, when there is one."""
        if self.router.distressed(text):
            return True
        norm = normalize(text)
        if self.model is None or not norm or self.router.figurative(text):
            return False
        score = self.model.score(text)
        needed = SPREAD_SURE if laughing(text, norm) else DISTRESS_THRESHOLD  # "3 kilo bijgekomen haha" is no distress
        if score.probability < needed or _no_topic(score):
            return False
        return not before or self.model.score(join_context(list(before), text)).probability >= needed
