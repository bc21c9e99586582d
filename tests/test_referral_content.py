"""The referral texts as a user reads them: the right lines per topic and community, one register per language,
no unconfirmed number, a short repeat line that is one sentence followed by every line of the topic."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.content import LANGS, data_root
from bot.core.i18n import Strings
from bot.core.referrals import EMERGENCY, Referrals, community
from bot.core.safety import ABOUT_FOLLOWER, TOPICS
from tests.conftest import digits, phone_like

FOLLOWER_TOPICS = (*ABOUT_FOLLOWER, "online_hate")
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\.([a-z_]+)\}")
FACTS_SECTION = re.compile(r"^[A-G](\.\d+)*$")


@pytest.fixture(scope="module")
def referrals(content) -> Referrals:
    return Referrals(content, Strings(content.ui))


def every_render(referrals: Referrals):
    """(label, text) for every text the referral code can produce."""
    for topic in TOPICS:
        abouts = ["", *FOLLOWER_TOPICS] if topic == "creator_follower" else [""]
        for lang in LANGS:
            for about in abouts:
                for severity in ("high", "acute"):
                    for short in (False, True):
                        ref = referrals.render(topic, lang, severity, short=short, about=about)
                        yield f"{topic}/{about or '-'}/{lang}/{severity}/{'short' if short else 'full'}", ref.text
    for lang in LANGS:
        yield f"overview/{lang}", referrals.overview(lang)
        for line in referrals.content.helplines:
            yield f"card/{line}/{lang}", referrals.card(line, lang)


def template_texts(content, lang: str):
    """Every template string for one language, by_topic included."""
    for topic, langs in content.templates.items():
        blocks = [langs[lang], *(langs[lang].get("by_topic") or {}).values()]
        for block in blocks:
            for key in ("intro", "outro", "short", "copy"):
                if block.get(key):
                    yield topic, block[key]
            for bullet in block.get("guidance") or []:
                yield topic, bullet


def test_unverified_numbers_are_never_shown(referrals, content):
    """facts.md marks some numbers unverified (DrugLijn, CAW): the bot gives their website, never the number."""
    hidden = {digits(h.number): h.id for h in content.helplines.values() if h.unverified and h.number}
    assert {"druglijn", "caw"} <= set(hidden.values())
    shown = [(label, n) for label, text in every_render(referrals) for n in phone_like(text) if digits(n) in hidden]
    assert not shown, shown
    for lang in LANGS:
        for topic, text in template_texts(content, lang):
            for hid, field in PLACEHOLDER.findall(text):
                assert not (field == "number" and content.helplines[hid].unverified), f"{topic}.{lang}: {hid}.number"


def test_every_printed_number_is_a_confirmed_registry_number(referrals, content):
    allowed = {digits(h.number) for h in content.helplines.values() if h.number and not h.unverified}
    unknown = {(label, n) for label, text in every_render(referrals) for n in phone_like(text) if digits(n) not in allowed}
    assert not unknown, unknown


def test_registry_entries_cite_facts_sections_and_were_checked(content):
    doc = yaml.safe_load((data_root() / "referrals" / "helplines.yml").read_text(encoding="utf-8"))
    for raw in doc["helplines"]:
        sections = [s.strip() for s in str(raw.get("facts", "")).split(",")]
        assert all(FACTS_SECTION.match(s) for s in sections), f"{raw['id']}: facts {raw.get('facts')!r}"
        assert str(raw["source"]).startswith("https://"), raw["id"]
        assert raw["verified"].isoformat() >= "2026-12-02", raw["id"]
        assert set(raw.get("note") or {}) <= set(LANGS), raw["id"]
    assert set(content.helplines) == {raw["id"] for raw in doc["helplines"]}


def test_english_speakers_are_told_a_flemish_line_works_in_dutch(referrals, content):
    for topic in TOPICS:
        text = referrals.render(topic, "en").text
        for hid in referrals.route(topic, "en"):
            line = content.helplines[hid]
            if line.community == "nl":
                assert re.search(re.escape(line.name.rstrip(")")) + r"[ (;]+in Dutch\)", text), (topic, hid)
    assert "(in Dutch)" not in referrals.render("suicide", "nl").text


def test_no_opening_hours_note_on_web_only_services(referrals, content):
    for lang in LANGS:
        note = referrals.t("ref_check_hours", lang)
        for line in content.helplines.values():
            shown_number = line.number and not line.unverified
            rendered = referrals.line(line, lang)
            if not shown_number and not line.chat:
                assert note not in rendered, rendered
            elif not line.always_open:
                assert note in rendered, rendered


@pytest.mark.parametrize("lang", LANGS)
def test_short_repeat_line_is_one_sentence_then_every_line(referrals, content, lang):
    for topic in TOPICS:
        abouts = ["", *FOLLOWER_TOPICS] if topic == "creator_follower" else [""]
        for about in abouts:
            for severity in ("high", "acute"):
                ref = referrals.render(topic, lang, severity, short=True, about=about)
                first, *rest = ref.text.split("\n")
                where = f"{topic}/{about}/{lang}/{severity}: {first!r}"
                assert not phone_like(first), where
                assert not re.search(r"[.!?]\s", first) and first.endswith(":"), where
                assert not [h for h in content.helplines.values() if h.name.lower() in first.lower()], where
                ids = [i for i in ref.helplines if i != EMERGENCY]
                assert len(rest) == len(ids) + 1, where
                for hid, line in zip(ids, [r for r in rest if r.startswith("• ")], strict=True):
                    assert content.helplines[hid].name.rstrip(")") in line, where
                danger = referrals.t("ref_emergency", lang, number="112")
                acute = severity == "acute" or topic == "acute_danger"
                assert rest[0 if acute else -1] == danger, where


def test_follower_guidance_by_topic_exists_for_every_topic_and_language(content):
    templates = content.templates["creator_follower"]
    for lang in LANGS:
        by_topic = templates[lang].get("by_topic") or {}
        assert set(by_topic) == set(FOLLOWER_TOPICS), lang
        for topic, block in by_topic.items():
            assert set(block) <= {"guidance", "copy", "intro", "outro", "short"}, (lang, topic)
            assert block.get("copy") and len(block.get("guidance") or []) >= 4, (lang, topic)
            for text in [block["copy"], *block["guidance"]]:
                for hid, field in PLACEHOLDER.findall(text):
                    assert hid in content.helplines and field in ("name", "number", "website", "chat"), (lang, topic, hid)
                assert not phone_like(PLACEHOLDER.sub("", text)), f"{lang}/{topic}: a number typed in {text!r}"
    # the general text stays for when the topic is unknown, and each topic's reply is its own
    copies = {templates[lang]["copy"] for lang in LANGS}
    assert not copies & {b["copy"] for lang in LANGS for b in templates[lang]["by_topic"].values()}


@pytest.mark.parametrize(
    ("about", "lang", "present", "absent"),
    [
        ("sexual_violence", "nl", ["seksueelgeweld.be", "1712", "Zorgcentrum na Seksueel Geweld"], ["1813"]),
        ("sexual_violence", "en", ["seksueelgeweld.be", "1712", "Sexual Assault Care Centre"], ["1813"]),
        ("sexual_violence", "fr", ["seksueelgeweld.be", "0800 98 100", "CPVS"], ["0800 32 123"]),
        ("sextortion", "nl", ["116 000", "101", "jonger dan 18", "1712"], ["1813"]),
        ("sextortion", "fr", ["116 000", "101", "moins de 18 ans"], ["0800 32 123"]),
        ("sextortion", "en", ["116 000", "101", "under 18", "1712"], ["1813"]),
        ("eating_disorder", "nl", ["eetexpert.be"], ["1813"]),
        ("eating_disorder", "en", ["eetexpert.be"], ["1813"]),
        ("addiction", "nl", ["druglijn.be", "gokhulp.be"], ["1813", "078 15 10 20"]),
        ("addiction", "fr", ["infordrogues.be", "aide-aux-joueurs.be"], ["0800 32 123"]),
        ("violence", "nl", ["1712", "nupraatikerover.be"], ["1813"]),
        ("violence", "fr", ["0800 30 030", "Écoute Violences Conjugales"], ["0800 32 123"]),
        ("suicide", "nl", ["1813", "zelfmoord1813.be"], []),
        ("suicide", "fr", ["0800 32 123"], []),
        ("distress", "nl", ["106", "Tele-Onthaal"], []),
        ("online_hate", "en", ["102", "screenshots"], []),
        ("", "nl", ["1813", "106", "watwat.be"], []),
        ("", "fr", ["0800 32 123", "107"], []),
    ],
)
def test_a_creator_gets_the_lines_and_reply_for_the_followers_topic(referrals, about, lang, present, absent):
    text = referrals.render("creator_follower", lang, about=about).text
    copy = text.split(referrals.t("ref_copy_label", lang), 1)[1].split("\n\n", 1)[0]
    for needle in present:
        assert needle in text, needle
    for needle in absent:
        assert needle not in text, needle
    assert copy.strip(), "a copyable reply"


def test_sextortion_sends_adults_to_the_police_and_minors_to_child_focus(content, referrals):
    for lang in ("nl", "fr"):
        route = content.routes["sextortion"][lang]
        assert route.index("police_101") < route.index("child_focus_116000"), lang
    for lang, minors in (("nl", "jonger dan 18"), ("fr", "moins de 18 ans"), ("en", "under 18")):
        intro = referrals.render("sextortion", lang).text.split("\n\n")[0]
        assert minors in intro and content.helplines["child_focus_116000"].name in intro, lang


def test_french_community_routes(content):
    routes = content.routes
    assert routes["violence"]["fr"][0] == "ecoute_violences_conjugales"
    assert routes["sexual_violence"]["fr"].index("zsg") < routes["sexual_violence"]["fr"].index("sos_viol")
    assert routes["sexual_violence"]["nl"][0] == "zsg"
    evc = content.helplines["ecoute_violences_conjugales"]
    assert digits(evc.number) == "080030030" and evc.always_open and not evc.unverified and evc.community == "fr"
    for topic, langs in routes.items():
        for hid in langs["fr"]:
            assert content.helplines[hid].community in ("fr", "national"), (topic, hid)
        for hid in langs["nl"]:
            assert content.helplines[hid].community in ("nl", "national"), (topic, hid)
    assert community("en") == "nl"


FR_TU = re.compile(r"\b(tu|toi|te|ton|ta|tes)\b|\bt'|-toi\b|\b(parles-en|prends|réponds|appelle le|n'attends)\b", re.IGNORECASE)
NL_FORMAL = re.compile(r"\b(u|uw|kunt)\b", re.IGNORECASE)


def test_one_register_per_language(content, referrals):
    """French: "vous" everywhere (the UI strings in the same message say "vous" too); Dutch: "je", as Flemish
    users write it ("je kan"), never "u" or "kunt"."""
    fr = [(t, x) for t, x in template_texts(content, "fr") if FR_TU.search(x)]
    assert not fr, fr
    nl = [(t, x) for t, x in template_texts(content, "nl") if NL_FORMAL.search(x)]
    assert not nl, nl
    for topic in TOPICS:
        text = referrals.render(topic, "fr").text
        assert not re.search(r"[^\s/:]:(\s|$)", text), f"{topic}: French puts a space before a colon"


def test_every_route_line_shows_how_to_reach_it(referrals, content):
    for topic in TOPICS:
        for lang in LANGS:
            for hid in referrals.route(topic, lang):
                if hid == EMERGENCY:
                    continue
                line = content.helplines[hid]
                rendered = referrals.line(line, lang, compact=True)
                assert (line.number and not line.unverified and line.number in rendered) or (
                    line.website or line.chat
                ) in rendered


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("awel nummer", "awel_102"),
        ("Wat is het nummer van Tele-Onthaal?", "tele_onthaal_106"),
        ("numéro télé-accueil", "tele_accueil_107"),
        ("Écoute-Enfants, c'est quel numéro ?", "ecoute_enfants_103"),
        ("is 1712 een noodnummer?", "hulplijn_1712"),
        ("when is child focus open?", "child_focus_116000"),
        ("awel, wanneer is het examen en hoeveel kost het certificaat eigenlijk?", None),  # "awel" = "well"
        ("ik heb 106 volgers en een merk stuurt me een gratis product, moet ik iets vermelden?", None),
        ("Moet ik het nummer 1813 onder mijn video over zelfdoding zetten, en hoe breng ik het onderwerp veilig?", None),
    ],
)
def test_a_question_about_one_line_names_it(referrals, text, line):
    assert referrals.asked_about(text) == line


@pytest.mark.parametrize("lang", LANGS)
def test_a_lines_card_says_who_it_is_for_and_when(referrals, content, lang):
    line = content.helplines["zelfmoordlijn_1813"]
    card = referrals.card(line.id, lang)
    assert line.number in card and line.audience[lang] in card and line.hours[lang] in card
    assert content.helplines[EMERGENCY].number in card
