"""Locate and load the content folders (intents/, knowledge/, referrals/)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
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


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: dict[str, str]
    answer: dict[str, str]
    source: str
    url: str
    reviewed: dt.date
    related: tuple[str, ...] = ()

    def link(self, lang: str) -> str:
        """The source link for a user reading `lang`."""
        return self.url


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
    safety_training: list[dict[str, Any]] = field(default_factory=list)  # labelled crisis and calm messages
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


def _load_faq(root: Path) -> dict[str, FaqEntry]:
    entries: dict[str, FaqEntry] = {}
    for path in yaml_files(root / "knowledge" / "faq"):
        for raw in load_yaml(path) or []:
            entries[raw["id"]] = FaqEntry(
                id=raw["id"],
                question=raw["question"],
                answer=raw["answer"],
                source=raw["source"],
                url=raw["url"],
                reviewed=raw["reviewed"],
                related=tuple(raw.get("related") or ()),
            )
    return entries


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
    return Content(
        faq=_load_faq(root),
        chapters=_load_chapters(root),
        helplines=_load_helplines(root),
        routes=load_yaml(root / "referrals" / "routes.yml")["routes"],
        templates=templates,
        lexicons=lexicons,
        ui=load_yaml(root / "knowledge" / "ui.yml"),
        menus={name: tuple(ids) for name, ids in load_yaml(root / "knowledge" / "menus.yml").items()},
        training=load_training(root),
        safety_training=load_safety_training(root),
        captions=load_captions(root),
    )
