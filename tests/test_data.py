"""Every content file is valid, and the files agree with each other (readable per-file report)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.content import LANGS, ContentError, FaqEntry, data_root, parse_examples, yaml_files
from bot.core.nlu import SYSTEM_INTENTS
from bot.core.safety import SEVERITIES, TOPICS, compile_pattern
from tests.conftest import digits, phone_like

ROOT = data_root()
ID = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\.([a-z_]+)\}")


def report(errors: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}:\n  - " + "\n  - ".join(errs) for name, errs in errors.items() if errs)


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def lang_map(value, where: str, errs: list[str], max_len: int | None = None) -> None:
    if not isinstance(value, dict):
        errs.append(f"{where}: expected a mapping with nl, fr, en")
        return
    for lang in LANGS:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            errs.append(f"{where}.{lang}: missing or empty")
        elif max_len and len(text) > max_len:
            errs.append(f"{where}.{lang}: {len(text)} characters (max {max_len})")


# -- FAQ -----------------------------------------------------------------------------------------


def faq_entries():
    return [(path, raw) for path in yaml_files(ROOT / "knowledge" / "faq") for raw in (load(path) or [])]


def test_faq_schema():
    """Each entry through the one data model the loader uses (bot.content.FaqEntry): ids, texts, source, links, dates."""
    errors: dict[str, list[str]] = {}
    for path in yaml_files(ROOT / "knowledge" / "faq"):
        errs = errors.setdefault(rel(path), [])
        doc = load(path)
        if not isinstance(doc, list):
            errs.append("top level must be a list of entries")
            continue
        for raw in doc:
            try:
                FaqEntry.from_raw(raw)
            except ContentError as exc:
                errs.append(str(exc))
    assert not report(errors), report(errors)


def test_faq_cross_file():
    entries = faq_entries()
    ids = Counter(raw["id"] for _, raw in entries)
    assert not [i for i, n in ids.items() if n > 1], "duplicate FAQ ids"
    assert len(ids) >= 80
    missing = {raw["id"]: [r for r in raw.get("related", []) if r not in ids] for _, raw in entries}
    assert not {k: v for k, v in missing.items() if v}, "related ids that do not exist"
    assert not set(ids) & set(SYSTEM_INTENTS)


# -- intents -------------------------------------------------------------------------------------


def test_intents_are_rasa_nlu_and_cover_every_faq_id():
    faq_ids = {raw["id"] for _, raw in faq_entries()}
    errors: dict[str, list[str]] = {}
    per_lang: dict[str, Counter] = {lang: Counter() for lang in LANGS}
    seen: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for lang in LANGS:
        for path in yaml_files(ROOT / "intents" / lang):
            errs = errors.setdefault(rel(path), [])
            doc = load(path)
            if str(doc.get("version")) != "3.1":
                errs.append('version must be "3.1"')
            for block in doc.get("nlu") or []:
                intent = block.get("intent")
                if intent not in faq_ids and intent not in SYSTEM_INTENTS:
                    errs.append(f"intent {intent!r} is neither a FAQ id nor a system intent")
                examples = parse_examples(block.get("examples", ""))
                per_lang[lang][intent] += len(examples)
                for ex in examples:
                    key = ex.lower().strip()
                    if key in seen[lang] and seen[lang][key] != f"{intent}":
                        errs.append(f"example {ex!r} is in both {seen[lang][key]} and {intent}")
                    elif key in seen[lang]:
                        errs.append(f"duplicate example {ex!r} in {intent}")
                    seen[lang][key] = intent
                    if phone_like(ex):
                        errs.append(f"example {ex!r} contains a phone-like number")
    for lang in LANGS:
        errs = errors.setdefault(f"intents/{lang}", [])
        for intent in sorted(faq_ids | set(SYSTEM_INTENTS)):
            if per_lang[lang][intent] < 10:
                errs.append(f"{intent}: {per_lang[lang][intent]} examples (at least 10)")
    assert not report(errors), report(errors)


# -- quiz ----------------------------------------------------------------------------------------


def test_quiz_items_fit_telegram_polls_and_agree_across_languages():
    faq_ids = {raw["id"] for _, raw in faq_entries()}
    errors: dict[str, list[str]] = {}
    all_ids: Counter = Counter()
    positions: Counter = Counter()
    chapters = set()
    for path in yaml_files(ROOT / "knowledge" / "quiz"):
        errs = errors.setdefault(rel(path), [])
        doc = load(path)
        chapters.add(doc.get("chapter"))
        lang_map(doc.get("title"), "title", errs)
        items = doc.get("items") or []
        if len(items) < 12:
            errs.append(f"{len(items)} items (at least 12 per chapter)")
        for raw in items:
            where = raw.get("id", "?")
            all_ids[where] += 1
            if not str(where).startswith(f"ch{doc['chapter']}_"):
                errs.append(f"{where}: id must start with ch{doc['chapter']}_")
            if raw.get("faq") not in faq_ids:
                errs.append(f"{where}: faq {raw.get('faq')!r} does not exist")
            if not str(raw.get("source", "")).strip():
                errs.append(f"{where}: source missing")
            counts = set()
            for lang in LANGS:
                block = raw.get(lang) or {}
                q, opts, expl = block.get("question", ""), block.get("options") or [], block.get("explanation", "")
                counts.add(len(opts))
                if not 1 <= len(q) <= 300:
                    errs.append(f"{where}.{lang}: question length {len(q)} (1-300)")
                if not 3 <= len(opts) <= 4:
                    errs.append(f"{where}.{lang}: {len(opts)} options (3-4)")
                if any(not 1 <= len(str(o)) <= 100 for o in opts):
                    errs.append(f"{where}.{lang}: an option is empty or longer than 100 characters")
                if len(set(map(str, opts))) != len(opts):
                    errs.append(f"{where}.{lang}: duplicate options")
                if not 1 <= len(expl) <= 200:
                    errs.append(f"{where}.{lang}: explanation length {len(expl)} (1-200)")
                for text in [q, expl, *map(str, opts)]:
                    if phone_like(text):
                        errs.append(f"{where}.{lang}: phone-like number in {text!r}")
            if len(counts) != 1:
                errs.append(f"{where}: option counts differ between languages")
            correct = raw.get("correct")
            if not isinstance(correct, int) or not 0 <= correct < min(counts or {0}):
                errs.append(f"{where}: correct must be one option index")
            else:
                positions[correct] += 1
    assert chapters == {1, 2, 3, 4, 5}
    assert not [i for i, n in all_ids.items() if n > 1], "duplicate quiz ids"
    total = sum(positions.values())
    assert max(positions.values()) <= 0.4 * total, f"correct answers cluster: {dict(positions)}"
    assert not report(errors), report(errors)


def quiz_items():
    return [raw for path in yaml_files(ROOT / "knowledge" / "quiz") for raw in (load(path).get("items") or [])]


@pytest.mark.parametrize("lang", LANGS)
def test_quiz_answer_length_gives_no_cue(lang):
    """Test-wise users pick the longest (or, once that is fixed, never the longest) option: spread it like the
    positions. Ties count as longest."""
    items = quiz_items()
    longest = shortest = 0
    for raw in items:
        lengths = [len(str(o)) for o in raw[lang]["options"]]
        mine, others = lengths[raw["correct"]], lengths[: raw["correct"]] + lengths[raw["correct"] + 1 :]
        longest += mine >= max(others)
        shortest += mine < min(others)
    assert longest <= 0.35 * len(items), f"{lang}: the correct option is the longest in {longest} of {len(items)} items"
    assert shortest <= 0.35 * len(items), f"{lang}: the correct option is the shortest in {shortest} of {len(items)} items"
    assert longest >= 0.1 * len(items), f"{lang}: the correct option is almost never the longest ({longest})"


FR_COMMUNITY_LINES = ("Centre de Prévention du Suicide", "Télé-Accueil", "Écoute-Enfants", "Écoute Violences Conjugales")


def test_french_chapter_5_practises_the_french_community_lines():
    items = [raw for raw in quiz_items() if raw["id"].startswith("ch5_")]
    texts = [" ".join([raw["fr"]["question"], *map(str, raw["fr"]["options"])]) for raw in items]
    named = {line for text in texts for line in FR_COMMUNITY_LINES if line in text}
    assert named == set(FR_COMMUNITY_LINES), f"missing in the French chapter 5: {set(FR_COMMUNITY_LINES) - named}"
    assert sum(any(line in text for line in FR_COMMUNITY_LINES) for text in texts) >= 6
    flemish_only = [raw["id"] for raw, text in zip(items, texts, strict=True) if "Zelfmoordlijn" in text]
    assert not flemish_only, f"French items that still teach the Flemish suicide line: {flemish_only}"


def test_chapter_5_links_the_safe_posting_entry():
    """Chapter 5 is about helplines and safe posting: its items link that FAQ entry (branch `content` adds it)."""
    faq_ids = {raw["id"] for _, raw in faq_entries()}
    if "safe_posting" not in faq_ids:
        pytest.skip("FAQ entry safe_posting not merged yet: chapter 5 still links influencer_faq")
    wrong = [raw["id"] for raw in quiz_items() if raw["id"].startswith("ch5_") and raw["faq"] != "safe_posting"]
    assert not wrong, f"chapter 5 items that should link safe_posting: {wrong}"


# -- referrals -----------------------------------------------------------------------------------


def test_helpline_registry():
    doc = load(ROOT / "referrals" / "helplines.yml")
    errs: list[str] = []
    ids = Counter(h["id"] for h in doc["helplines"])
    errs += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for h in doc["helplines"]:
        where = h.get("id")
        for key in ("name", "community", "source", "verified"):
            if not h.get(key):
                errs.append(f"{where}: {key} missing")
        if h.get("community") not in ("nl", "fr", "national", "nl_NL"):
            errs.append(f"{where}: community {h.get('community')!r}")
        lang_map(h.get("audience"), f"{where}.audience", errs)
        lang_map(h.get("hours"), f"{where}.hours", errs)
        if not isinstance(h.get("always_open"), bool):
            errs.append(f"{where}: always_open must be true/false")
        if not h.get("number") and not h.get("website"):
            errs.append(f"{where}: needs a number or a website")
        if h.get("unverified") and not h.get("website"):
            errs.append(f"{where}: an unverified number must come with a website")
    for required in (
        "emergency_112",
        "zelfmoordlijn_1813",
        "awel_102",
        "hulplijn_1712",
        "tele_onthaal_106",
        "child_focus_116000",
    ):
        if required not in ids:
            errs.append(f"{required} missing")
    assert not errs, "\n".join(errs)


def test_known_numbers_are_exact():
    """The numbers the issue names, checked against facts.md by hand: a typo here is dangerous."""
    numbers = {h["id"]: digits(str(h.get("number") or "")) for h in load(ROOT / "referrals" / "helplines.yml")["helplines"]}
    assert numbers["zelfmoordlijn_1813"] == "1813"
    assert numbers["awel_102"] == "102"
    assert numbers["hulplijn_1712"] == "1712"
    assert numbers["tele_onthaal_106"] == "106"
    assert numbers["child_focus_116000"] == "116000"
    assert numbers["emergency_112"] == "112"
    assert numbers["cps_suicide_fr"] == "080032123"


def test_routes_and_templates():
    helplines = {h["id"]: h for h in load(ROOT / "referrals" / "helplines.yml")["helplines"]}
    routes = load(ROOT / "referrals" / "routes.yml")["routes"]
    templates = {load(p)["topic"]: load(p) for p in yaml_files(ROOT / "referrals" / "templates")}
    errs: list[str] = []
    for topic in TOPICS:
        if topic not in routes:
            errs.append(f"route {topic} missing")
            continue
        for community in ("nl", "fr"):
            ids = routes[topic].get(community) or []
            if not ids:
                errs.append(f"route {topic}.{community} empty")
            errs += [f"route {topic}.{community}: unknown helpline {i}" for i in ids if i not in helplines]
        if topic not in templates:
            errs.append(f"template {topic} missing")
            continue
        for lang in LANGS:
            tpl = templates[topic].get(lang) or {}
            for key in ("intro", "short"):
                if not tpl.get(key):
                    errs.append(f"template {topic}.{lang}.{key} missing")
            texts = [
                tpl.get("intro", ""),
                tpl.get("outro", ""),
                tpl.get("short", ""),
                tpl.get("copy", ""),
                *(tpl.get("guidance") or []),
            ]
            for text in texts:
                for hid, field in PLACEHOLDER.findall(text):
                    if hid not in helplines or field not in ("name", "number", "website", "chat"):
                        errs.append(f"template {topic}.{lang}: unknown placeholder {{{hid}.{field}}}")
                if phone_like(PLACEHOLDER.sub("", text)):
                    errs.append(f"template {topic}.{lang}: a number typed in the text; use a {{helpline.number}} placeholder")
        if topic in ("creator_follower", "creator_content"):
            errs += [
                f"template {topic}.{lang}: guidance and copy needed"
                for lang in LANGS
                if not (templates[topic][lang].get("guidance") and templates[topic][lang].get("copy"))
            ]
    assert not errs, "\n".join(errs)


def test_lexicons_compile_and_cover_every_topic():
    errs: list[str] = []
    for lang in LANGS:
        doc = load(ROOT / "referrals" / "lexicon" / f"{lang}.yml")
        topics = Counter()
        for raw in doc.get("phrases") or []:
            where = f"{lang}: {raw.get('match')!r}"
            if raw.get("topic") not in TOPICS:
                errs.append(f"{where}: unknown topic {raw.get('topic')!r}")
            if raw.get("severity") not in SEVERITIES:
                errs.append(f"{where}: unknown severity {raw.get('severity')!r}")
            try:
                compile_pattern(str(raw.get("match")))
            except re.error as exc:
                errs.append(f"{where}: does not compile ({exc})")
            if str(raw.get("match")) != str(raw.get("match")).lower():
                errs.append(f"{where}: patterns are lowercase (text is normalized)")
            topics[raw.get("topic")] += 1
        errs += [f"{lang}: no phrases for topic {t}" for t in TOPICS if not topics[t]]
        for pattern in doc.get("exclusions") or []:
            try:
                compile_pattern(pattern)
            except re.error as exc:
                errs.append(f"{lang} exclusion {pattern!r}: {exc}")
    assert not errs, "\n".join(errs)


def test_ui_strings_have_every_language():
    ui = load(ROOT / "knowledge" / "ui.yml")
    missing = [
        f"{key}.{lang}"
        for key, value in ui.items()
        for lang in LANGS
        if not (value or {}).get(lang) and not key.startswith(("lang_", "desk_"))
    ]
    assert not missing, missing


@pytest.mark.parametrize("bad", ["0800 32 123", "078 15 10 20", "1813", "116 000", "02/649 95 55", "bel 106"])
def test_phone_lint_catches_numbers(bad):
    assert phone_like(bad)


@pytest.mark.parametrize(
    "fine", ["€49", "70%", "1 juli 2023", "in 1974", "€80.000", "6.000 influencers", "zelfmoord1813.be", "€1.500"]
)
def test_phone_lint_ignores_amounts_dates_and_urls(fine):
    assert not phone_like(fine)
