"""FAQ and UI text rules: answers state the rule, links fit the reader, sources exist, numbers come from the registry."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from bot.content import HELPLINE_REF, LANGS, ContentError, FaqEntry, data_root, load_content, parse_links, source_refs, yaml_files
from tests.conftest import phone_like

ROOT = data_root()
HERE = Path(__file__).resolve().parent
# A bare yes/no at the start reads as an answer to the user's phrasing, which may be the opposite of ours.
BARE_YES_NO = re.compile(r"^\W*(?:ja|jawel|jep|nee|neen|nope|oui|non|ouais|yes|yeah|yep|no)\b(?![-'])", re.IGNORECASE)


def raw_faq() -> list[tuple[str, dict]]:
    return [(p.name, raw) for p in yaml_files(ROOT / "knowledge" / "faq") for raw in yaml.safe_load(p.read_text("utf-8")) or []]


def shared_dir() -> Path | None:
    """../shared next to the checkout (or next to the worktree folder), or $INFLUBOT_SHARED."""
    candidates = [os.environ.get("INFLUBOT_SHARED"), ROOT.parent / "shared", ROOT.parent.parent / "shared"]
    return next((Path(c) for c in candidates if c and (Path(c) / "domain" / "facts.md").is_file()), None)


def sections_in_facts(text: str) -> set[str]:
    """Section ids of facts.md: '## A.' headings, '### A.1' headings, '**A.2.1' bold titles, numbered items of E and G."""
    ids: set[str] = set()
    top, in_sub = None, False
    for line in text.splitlines():
        if m := re.match(r"^##\s+([A-Z])\.\s", line):
            top, in_sub = m.group(1), False
            ids.add(top)
        elif m := re.match(r"^###\s+([A-Z]\.\d+)\b", line):
            in_sub = True
            ids.add(m.group(1))
        elif m := re.match(r"^\*\*([A-Z]\.\d+(?:\.\d+)?)\b", line):
            ids.add(m.group(1))
        elif top and not in_sub and (m := re.match(r"^(\d+)\.\s", line)):
            ids.add(f"{top}.{m.group(1)}")
    return ids


def checked_in() -> dict[str, set[str]]:
    known: dict[str, set[str]] = {"seeds": set(), "facts": set()}
    for line in (HERE / "facts_sections.txt").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, _, ids = line.partition(":")
            known[kind.strip()] |= set(ids.split())
    return known


def known_sources() -> dict[str, set[str]]:
    shared = shared_dir()
    if shared is None:
        return checked_in()
    return {
        "seeds": {p.name[:3] for p in (shared / "seeds").glob("[0-9][0-9][0-9]_*.txt")},
        "facts": sections_in_facts((shared / "domain" / "facts.md").read_text("utf-8")),
    }


# -- the data model ------------------------------------------------------------------------------


def test_every_faq_entry_fits_the_data_model():
    errors = []
    for name, raw in raw_faq():
        try:
            FaqEntry.from_raw(raw)
        except ContentError as exc:
            errors.append(f"{name}: {exc}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.be/",
        {"nl": "https://a.be/", "fr": "https://a.be/fr"},
        {"nl": "https://a.be/", "fr": "https://a.be/fr", "en": "ftp://a.be/"},
        {"nl": "https://a.be/", "fr": "https://a.be/", "en": "https://a.be/", "de": "https://a.be/"},
        "https://a.be/ with space",
        None,
    ],
)
def test_bad_links_are_refused(url):
    with pytest.raises(ContentError):
        parse_links(url)


def test_one_link_serves_every_language_and_a_mapping_gives_each_its_own():
    assert parse_links("https://a.be/") == {lang: "https://a.be/" for lang in LANGS}
    entry = next(e for e in load_content().faq.values() if len(set(e.links.values())) > 1)
    assert {entry.link(lang) for lang in LANGS} == set(entry.links.values())
    assert entry.link("fr") != entry.link("nl") or entry.link("en") != entry.link("nl")


@pytest.mark.parametrize(
    "source", ["seed 0", "facts.md", "facts.md C.2, Z.1", "CONTRACT.md", "facts.md C.2 D.1", "", "see the web"]
)
def test_malformed_sources_are_refused(source):
    with pytest.raises(ContentError):
        source_refs(source)


def test_sources_parse_into_seeds_and_sections():
    assert source_refs("seed 000; facts.md C.1-C.4, D.2") == [
        ("seed", "000"),
        ("facts", "C.1"),
        ("facts", "C.4"),
        ("facts", "D.2"),
    ]


# -- what every answer must do -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Ja. Een kortingscode", "Nee, de JEP", "Oui, le certificat", "Non.", "Yes, brands", "No. Abbreviations", "« Non »"]
)
def test_bare_yes_no_check_catches_openers(text):
    assert BARE_YES_NO.match(text)


@pytest.mark.parametrize("text", ["Nederland kent", "Nonante", "Notez que", "Je kan", "Japans", "Yesterday", "Nobody"])
def test_bare_yes_no_check_lets_rules_through(text):
    assert not BARE_YES_NO.match(text)


def test_no_answer_opens_with_a_bare_yes_or_no():
    found = [
        f"{e.id}.{lang}: {text[:40]!r}"
        for e in load_content().faq.values()
        for lang, text in e.answer.items()
        if BARE_YES_NO.match(text)
    ]
    assert not found, "state the rule instead:\n" + "\n".join(found)


def test_every_source_points_to_a_seed_or_facts_section_that_exists():
    known = known_sources()
    missing = [
        f"{e.id}: {kind} {ref}"
        for e in load_content().faq.values()
        for kind, ref in source_refs(e.source)
        if ref not in known["seeds" if kind == "seed" else "facts"]
    ]
    assert not missing, missing


def test_checked_in_section_list_still_matches_the_shared_files():
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared is not here; the checked-in list stands in for it")
    real, listed = known_sources(), checked_in()
    assert listed["seeds"] <= real["seeds"] and listed["facts"] <= real["facts"], "update tests/facts_sections.txt"


def test_numbers_in_faq_and_ui_text_are_registry_placeholders():
    """Phone numbers are never typed into knowledge/: they come from referrals/helplines.yml via {id.number}."""
    texts = [(f"{raw.get('id')}.{lang}", text) for _, raw in raw_faq() for lang, text in (raw.get("answer") or {}).items()]
    ui = yaml.safe_load((ROOT / "knowledge" / "ui.yml").read_text("utf-8"))
    texts += [(f"ui {key}.{lang}", text) for key, value in ui.items() for lang, text in value.items()]
    typed = [
        f"{where}: {phone_like(HELPLINE_REF.sub('', text))}" for where, text in texts if phone_like(HELPLINE_REF.sub("", text))
    ]
    assert not typed, typed


def test_placeholders_resolve_to_registry_numbers(content):
    """The safe-posting answer names the suicide line of the reader's community, with the registry's number."""
    entry = content.faq["safe_posting"]
    assert content.helplines["zelfmoordlijn_1813"].number in entry.answer["nl"]
    assert content.helplines["cps_suicide_fr"].number in entry.answer["fr"]
    assert not any(HELPLINE_REF.search(text) for text in entry.answer.values())


# -- coverage and menus --------------------------------------------------------------------------


def test_at_least_80_entries_and_menus_point_at_them(content):
    assert len(content.faq) >= 80
    assert content.menus["faq"] and content.menus["popular"]
    assert all(i in content.faq for ids in content.menus.values() for i in ids)


def test_french_speaks_vous_in_faq_and_ui(content):
    tu = re.compile(r"\b(?:tu|toi|ton|ta|tes|te|t')\b|\bt'", re.IGNORECASE)
    texts = [(e.id, e.answer["fr"]) for e in content.faq.values()] + [(e.id, e.question["fr"]) for e in content.faq.values()]
    texts += [(key, value["fr"]) for key, value in content.ui.items() if "fr" in value]
    found = [f"{where}: {tu.findall(text)}" for where, text in texts if tu.search(text)]
    assert not found, found


def test_names_are_spelled_one_way(content):
    """la VRM, le SPF Economie, FPS Economy: one name per language."""
    fr = " ".join(e.answer["fr"] for e in content.faq.values())
    en = " ".join(e.answer["en"] for e in content.faq.values())
    assert "le VRM" not in fr and "du VRM" not in fr and "au VRM" not in fr and "SPF Économie" not in fr
    assert "FOD Economie" not in en


def test_every_faq_question_is_whole(content):
    """A question cut short (YAML reads " #sp" as the start of a comment) shows up as a broken menu entry."""
    cut = [(i, lang) for i, e in content.faq.items() for lang, q in e.question.items() if not q.rstrip().endswith("?")]
    assert not cut
