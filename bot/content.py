"""Locate and load the content folders (intents/, knowledge/, referrals/)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.core.text import normalize

LANGS = ("nl", "fr", "en")
DATA_DIRS = ("intents", "knowledge", "referrals")


def data_root() -> Path:
    """Folder holding the content: bot/data inside a wheel, else the checkout root."""
    packaged = Path(__file__).resolve().parent / "data"
    if (packaged / "knowledge").is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_LOADER)  # noqa: S506 (a safe loader)


def yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yml") if p.is_file())


def content_hash(root: Path | None = None, folders: tuple[str, ...] = DATA_DIRS) -> str:
    """A fingerprint of the content files, used to cache trained models."""
    root = root or data_root()
    digest = hashlib.sha256()
    for name in folders:
        for path in sorted(p for p in (root / name).rglob("*") if p.suffix in (".yml", ".jsonl") and p.is_file()):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ContentError(ValueError):
    """A content file breaks the data model; the message says which entry and why."""


HELPLINE_REF = re.compile(r"\{([a-z0-9_]+)\.(name|number|website|chat)\}")
SOURCE_SEED = re.compile(r"^seed\s+(\d{3}(?:\s*,\s*\d{3})*)$")
SOURCE_FACTS = re.compile(r"^facts\.md\s+(.+)$")
SECTION_ID = re.compile(r"^[A-G](?:\.\d+){0,2}$")


def source_refs(source: str) -> list[tuple[str, str]]:
    """Parse a `source` field ("seed 000; facts.md C.2, C.4-C.5") into (kind, id) pairs: ("seed", "000"), ("facts", "C.2").

    A range "C.1-C.4" yields both ends. Raises ContentError on anything else, so every source stays checkable.
    """
    refs: list[tuple[str, str]] = []
    for part in (p.strip() for p in str(source).split(";")):
        if seed := SOURCE_SEED.match(part):
            refs += [("seed", s.strip()) for s in seed.group(1).split(",")]
        elif facts := SOURCE_FACTS.match(part):
            for item in (i.strip() for i in facts.group(1).split(",")):
                ends = [e.strip() for e in item.split("-")]
                if len(ends) > 2 or not all(SECTION_ID.match(e) for e in ends):
                    raise ContentError(f"source {source!r}: {item!r} is not a facts.md section id such as C.2")
                refs += [("facts", e) for e in ends]
        else:
            raise ContentError(f"source {source!r}: each part must read 'seed NNN' or 'facts.md X.n'")
    if not refs:
        raise ContentError("source missing")
    return refs


def parse_links(value: Any) -> dict[str, str]:
    """`url` as one https link for every language, or a mapping with one https link per language (nl, fr, en)."""
    links = {lang: value for lang in LANGS} if isinstance(value, str) else value
    if not isinstance(links, Mapping) or set(links) != set(LANGS):
        raise ContentError(f"url must be one https link or a mapping with exactly {', '.join(LANGS)}")
    for lang, link in links.items():
        if not isinstance(link, str) or not link.startswith("https://") or any(c.isspace() for c in link):
            raise ContentError(f"url.{lang}: {link!r} is not an https link")
    return dict(links)


def fill_helplines(text: str, helplines: Mapping[str, Any]) -> str:
    """Resolve {helpline_id.field} in content text from the registry: numbers are never typed into knowledge/."""

    def value(match: re.Match[str]) -> str:
        line = helplines.get(match.group(1))
        found = getattr(line, match.group(2), None) if line else None
        if not found:
            raise ContentError(f"{match.group(0)}: no such helpline field in referrals/helplines.yml")
        return str(found)

    return HELPLINE_REF.sub(value, text)


def _lang_texts(value: Any, what: str, max_len: int) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ContentError(f"{what}: expected a mapping with {', '.join(LANGS)}")
    for lang in LANGS:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise ContentError(f"{what}.{lang}: missing or empty")
        if len(text) > max_len:
            raise ContentError(f"{what}.{lang}: {len(text)} characters (max {max_len})")
    return {lang: value[lang] for lang in LANGS}


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: dict[str, str]
    answer: dict[str, str]
    source: str
    links: dict[str, str]  # lang -> https link (the same link in every language when the file gives one string)
    reviewed: dt.date
    related: tuple[str, ...] = ()

    def link(self, lang: str) -> str:
        """The source link for a user who reads `lang`."""
        return self.links.get(lang) or self.links["nl"]

    @property
    def url(self) -> str:
        """The Dutch link, for callers that have no language at hand (prefer `link(lang)`)."""
        return self.links["nl"]

    @classmethod
    def from_raw(cls, raw: Any, helplines: Mapping[str, Any] | None = None) -> FaqEntry:
        """One entry of knowledge/faq/*.yml, validated; raises ContentError naming the entry and the field."""
        if not isinstance(raw, Mapping):
            raise ContentError("an entry must be a mapping")
        faq_id = str(raw.get("id", ""))
        try:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", faq_id):
                raise ContentError("id must be snake_case (at most 40 characters)")
            answer = _lang_texts(raw.get("answer"), "answer", 900)
            for lang, text in answer.items():
                if "http" in text:
                    raise ContentError(f"answer.{lang}: no URLs in answers (the bot appends the `url` link)")
            source = str(raw.get("source") or "").strip()
            source_refs(source)
            reviewed = raw.get("reviewed")
            if not isinstance(reviewed, dt.date):
                raise ContentError("reviewed must be a date (YYYY-MM-DD)")
            related = raw.get("related") or []
            if not isinstance(related, list):
                raise ContentError("related must be a list of FAQ ids")
            if helplines is not None:
                answer = {lang: fill_helplines(text, helplines) for lang, text in answer.items()}
            return cls(
                id=faq_id,
                question=_lang_texts(raw.get("question"), "question", 100),
                answer=answer,
                source=source,
                links=parse_links(raw.get("url")),
                reviewed=reviewed,
                related=tuple(related),
            )
        except ContentError as exc:
            raise ContentError(f"FAQ {faq_id or '?'}: {exc}") from None


@dataclass(frozen=True)
class QuizItem:
    id: str
    chapter: int
    correct: int
    source: str
    faq: str
    text: dict[str, dict[str, Any]]  # lang -> {question, options, explanation}

    def question(self, lang: str) -> str:
        return self.text[lang]["question"]

    def options(self, lang: str) -> list[str]:
        return list(self.text[lang]["options"])

    def explanation(self, lang: str) -> str:
        return self.text[lang]["explanation"]


@dataclass(frozen=True)
class Chapter:
    number: int
    title: dict[str, str]
    items: tuple[QuizItem, ...]
    keywords: frozenset[str] = frozenset()  # normalized words that name the chapter in any language


@dataclass(frozen=True)
class Helpline:
    id: str
    name: str
    number: str | None
    website: str | None
    chat: str | None
    community: str
    audience: dict[str, str]
    hours: dict[str, str]
    always_open: bool
    free: bool
    anonymous: bool
    unverified: bool
    source: str
    verified: dt.date
    note: dict[str, str] = field(default_factory=dict)  # lang -> a few words after the name ("in Dutch")
    aliases: tuple[str, ...] = ()  # how users name it; "~awel": an everyday word too, counts in short messages only


@dataclass(frozen=True)
class Content:
    """Everything the bot reads from the content folders, loaded once."""

    faq: dict[str, FaqEntry]
    chapters: dict[int, Chapter]
    helplines: dict[str, Helpline]
    routes: dict[str, dict[str, list[str]]]
    templates: dict[str, dict[str, dict[str, Any]]]
    lexicons: dict[str, dict[str, Any]]
    ui: dict[str, dict[str, str]]
    menus: dict[str, tuple[str, ...]] = field(default_factory=dict)  # menu name -> FAQ ids, in order
    training: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # lang -> [(text, intent)]
    captions: dict[str, dict[str, Any]] = field(default_factory=dict)  # caption-check rules per language, as written

    @functools.cached_property
    def quiz_items(self) -> dict[str, QuizItem]:
        """Every quiz item by id (built once: the quiz looks items up on every answer)."""
        return {item.id: item for ch in self.chapters.values() for item in ch.items}


def parse_examples(block: str) -> list[str]:
    """Rasa's `examples: |` block as a list of example texts."""
    out = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("- "):
            out.append(line[2:].strip())
    return out


def load_safety_training(root: Path) -> list[dict[str, Any]]:
    """The crisis detector's labelled messages (referrals/training/*.jsonl; see its README)."""
    rows: list[dict[str, Any]] = []
    for path in sorted((root / "referrals" / "training").glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            rows.extend(json.loads(line) for line in lines if line.strip())
    return rows


def load_training(root: Path) -> dict[str, list[tuple[str, str]]]:
    training: dict[str, list[tuple[str, str]]] = {}
    for lang in LANGS:
        rows: list[tuple[str, str]] = []
        for path in yaml_files(root / "intents" / lang):
            doc = load_yaml(path) or {}
            for block in doc.get("nlu") or []:
                if "intent" in block:
                    rows.extend((ex, block["intent"]) for ex in parse_examples(block["examples"]))
        training[lang] = rows
    return training


def _load_faq(root: Path, helplines: Mapping[str, Any]) -> dict[str, FaqEntry]:
    entries: dict[str, FaqEntry] = {}
    for path in yaml_files(root / "knowledge" / "faq"):
        for raw in load_yaml(path) or []:
            try:
                entry = FaqEntry.from_raw(raw, helplines)
            except ContentError as exc:
                raise ContentError(f"{path.name}: {exc}") from None
            if entry.id in entries:
                raise ContentError(f"{path.name}: FAQ {entry.id}: duplicate id")
            entries[entry.id] = entry
    return entries


def _load_ui(root: Path, helplines: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    table = load_yaml(root / "knowledge" / "ui.yml")
    return {key: {lang: fill_helplines(text, helplines) for lang, text in value.items()} for key, value in table.items()}


def _load_menus(root: Path, faq: Mapping[str, FaqEntry]) -> dict[str, tuple[str, ...]]:
    path = root / "knowledge" / "menus.yml"
    doc = load_yaml(path) if path.is_file() else {}
    menus = {}
    for name, ids in (doc or {}).items():
        unknown = [i for i in ids if i not in faq]
        if unknown:
            raise ContentError(f"menus.yml: {name}: unknown FAQ ids {unknown}")
        menus[name] = tuple(ids)
    return menus


def _load_chapters(root: Path) -> dict[int, Chapter]:
    chapters: dict[int, Chapter] = {}
    for path in yaml_files(root / "knowledge" / "quiz"):
        doc = load_yaml(path)
        number = int(doc["chapter"])
        items = tuple(
            QuizItem(
                id=raw["id"],
                chapter=number,
                correct=int(raw["correct"]),
                source=raw["source"],
                faq=raw["faq"],
                text={lang: raw[lang] for lang in LANGS},
            )
            for raw in doc["items"]
        )
        words = [*doc["title"].values(), *(w for words in (doc.get("keywords") or {}).values() for w in words)]
        keywords = frozenset(w for phrase in words for w in normalize(phrase).split() if len(w) > 3)
        chapters[number] = Chapter(number=number, title=doc["title"], items=items, keywords=keywords)
    return dict(sorted(chapters.items()))


def _load_helplines(root: Path) -> dict[str, Helpline]:
    doc = load_yaml(root / "referrals" / "helplines.yml")
    lines = {}
    for raw in doc["helplines"]:
        lines[raw["id"]] = Helpline(
            id=raw["id"],
            name=raw["name"],
            number=str(raw["number"]) if raw.get("number") is not None else None,
            website=raw.get("website"),
            chat=raw.get("chat"),
            community=raw["community"],
            audience=raw["audience"],
            hours=raw["hours"],
            always_open=bool(raw["always_open"]),
            free=bool(raw.get("free", False)),
            anonymous=bool(raw.get("anonymous", False)),
            unverified=bool(raw.get("unverified", False)),
            source=raw["source"],
            verified=raw["verified"],
            note=raw.get("note") or {},
            aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        )
    return lines


def load_captions(root: Path) -> dict[str, dict[str, Any]]:
    """The caption-check rules, one file per language (knowledge/captions/<lang>.yml); bot.core.captions compiles them."""
    return {path.stem: load_yaml(path) for path in yaml_files(root / "knowledge" / "captions")}


@functools.lru_cache(maxsize=4)
def load_content(root: Path | None = None) -> Content:
    root = root or data_root()
    templates = {}
    for path in yaml_files(root / "referrals" / "templates"):
        doc = load_yaml(path)
        templates[doc["topic"]] = {lang: doc[lang] for lang in LANGS}
    lexicons = {lang: load_yaml(root / "referrals" / "lexicon" / f"{lang}.yml") for lang in LANGS}
    helplines = _load_helplines(root)
    faq = _load_faq(root, helplines)
    return Content(
        faq=faq,
        chapters=_load_chapters(root),
        helplines=helplines,
        routes=load_yaml(root / "referrals" / "routes.yml")["routes"],
        templates=templates,
        lexicons=lexicons,
        ui=_load_ui(root, helplines),
        menus=_load_menus(root, faq),
        training=load_training(root),
        captions=load_captions(root),
    )
