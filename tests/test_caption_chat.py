"""The caption check in chat: /controle (/verifier, /check) on console, Telegram and Discord, the ask-then-paste flow,
and safety first (a caption with a crisis message gets the referral). Also `influbot check --json` as a process."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys

import discord

from bot.adapters import discord_adapter as dc
from bot.core.types import Choices, Referral, Text
from tests.conftest import text_of
from tests.test_discord_adapter import Fake, adapter, commands, member  # noqa: F401 - fixtures
from tests.test_telegram_adapter import app, feed, message, rec, settings, state  # noqa: F401 - fixtures

GIFTED = "Zo blij met deze nieuwe serum van @glowbelgium! Echt een aanrader ✨\n\n#skincare #gifted"
CASINO = "Advertentie | Speel nu bij @casinobelgie en krijg 50 free spins! 🎰"
CODE = "Advertentie | @merk Met code LISA20 krijg je 20% korting op alles 🛍️"


def faq_payloads(reply) -> list[str]:
    return [c.payload for p in reply if isinstance(p, Choices) for c in p.options]


# -- console (the core through the service) -----------------------------------------------------


def test_check_with_a_gifted_caption_says_fix_why_and_the_first_line(chat):
    reply = chat.say(f"/controle {GIFTED}")
    t = chat.service.engine.t
    said = text_of(reply)
    assert reply[0].text.startswith(t("caption_fix", "nl")) and '"#gifted"' in said
    assert Text("Advertentie | In samenwerking met @glowbelgium") in reply, "the corrected first line, alone, ready to copy"
    assert t("caption_reminder", "nl") in said, "a commercial post: platform tool, enterprise number and address"
    assert faq_payloads(reply)[:3] == ["faq:disclosure_not_enough", "faq:disclosure_platform_tool", "faq:enterprise_number"]


def test_casino_is_not_allowed_without_a_first_line_to_copy(chat):
    reply = chat.say(f"/check {CASINO}")
    assert reply[0].text.startswith(chat.service.engine.t("caption_not_allowed", "nl"))
    assert "faq:special_gambling" in faq_payloads(reply)
    assert not any(isinstance(p, Text) and p.text.startswith("Advertentie |") for p in reply)


def test_a_correct_ad_is_ok_with_the_reminder(chat):
    reply = chat.say(f"/verifier {CODE}")
    assert reply[0].text == chat.service.engine.t("caption_ok_ad", "nl")
    assert faq_payloads(reply) == ["faq:disclosure_platform_tool", "faq:enterprise_number"]


def test_check_alone_asks_and_checks_the_next_message_without_changing_the_language(chat):
    chat.say("hallo")
    ask = chat.say("/check")
    assert ask[0].text == chat.service.engine.t("caption_prompt", "nl") and chat.state.flow == "caption"
    reply = chat.say("Publicité | Merci @marque pour ce joli colis ! Code LEA15 pour -15 %")
    assert reply.intent == "caption_check" and reply[0].text == chat.service.engine.t("caption_ok_ad", "nl")
    assert chat.state.lang == "nl" and chat.state.flow is None
    after = chat.say("wat kost het certificaat?")
    assert "49" in text_of(after), "the flow lasts one message"


def test_a_caption_on_the_lines_below_the_command_is_read(chat):
    reply = chat.say(f"/controle\n{GIFTED}")
    assert reply[0].text.startswith(chat.service.engine.t("caption_fix", "nl"))


def test_french_user_gets_french_sentences_and_a_french_first_line(chat):
    chat.say("/langue fr")
    reply = chat.say("/verifier Advertentie | Ma routine du soir avec la nouvelle gamme de @garnier 🌙")
    said = text_of(reply)
    assert reply[0].text.startswith(chat.service.engine.t("caption_fix", "fr")) and "néerlandais" in said
    assert Text("Publicité | En collaboration avec @garnier") in reply


def test_stop_cancels_the_caption_flow_and_a_quiz_waits(chat):
    chat.say("/quiz 1")
    chat.say("/controle")
    assert chat.state.quiz.paused and chat.state.flow == "caption"
    chat.say("/stop")
    assert chat.state.flow is None and chat.state.quiz.paused
    assert chat.say("/quiz")[-1].item_id == chat.state.quiz.items[0], "the quiz goes on where it was"


def test_a_crisis_in_a_caption_gets_the_referral_first(chat, service):
    crisis = "ik wil niet meer leven"
    reply = chat.say(f"/check {crisis}")
    assert isinstance(reply[0], Referral) and reply[0].topic == "suicide"
    assert not any(isinstance(p, Text) and p.text.startswith("✅") for p in reply)
    chat.say("/controle")
    pasted = chat.say(f"Advertentie | nieuwe jurk van @zara\n\n{crisis}")
    assert isinstance(pasted[0], Referral) and chat.state.flow is None


# -- Telegram (offline at the Bot API boundary) ----------------------------------------------


PHOTO = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]


async def test_telegram_photo_caption_is_checked(app, rec, service):  # noqa: F811
    await feed(app, message(photo=PHOTO, caption=GIFTED))
    texts = rec.texts()
    assert texts[0].startswith(html.escape(service.engine.t("caption_fix", "nl")))
    assert "Advertentie | In samenwerking met @glowbelgium" in texts


async def test_telegram_forwarded_post_is_checked(app, rec, service):  # noqa: F811
    origin = {"type": "channel", "date": 1, "chat": {"id": -1001, "type": "channel", "title": "Kanaal"}, "message_id": 5}
    await feed(app, message(CASINO, forward_origin=origin))
    assert rec.texts()[0].startswith(html.escape(service.engine.t("caption_not_allowed", "nl")))


async def test_telegram_crisis_in_a_photo_caption_gets_the_referral(app, rec, service):  # noqa: F811
    await feed(app, message(photo=PHOTO, caption="ik wil niet meer leven"))
    assert any("1813" in t for t in rec.texts())


async def test_telegram_group_photo_is_not_checked(app, rec):  # noqa: F811
    rec.calls.clear()
    await feed(app, message(photo=PHOTO, caption=GIFTED, chat=-5, chat_type="group"))
    assert rec.calls == []


# -- Discord (fake interactions) --------------------------------------------------------------


async def test_discord_controle_is_a_private_answer_in_a_guild(adapter, commands, service):  # noqa: F811
    inter = Fake(adapter, member(11))
    await commands["controle"].callback(inter, tekst=GIFTED)
    inter.check_mentions()
    contents = inter.contents()
    assert contents[0].startswith(service.engine.t("caption_fix", "nl"))
    assert "Advertentie | In samenwerking met @glowbelgium" in contents
    assert all(kw.get("ephemeral") is True for _, kw in inter.sent)


async def test_discord_controle_is_localized(service):
    client = dc.build_client(service, service.settings)
    translator = dc.Translator(client.adapter.translations)
    cmd = next(c for c in client.tree.get_commands(type=None) if c.name == "controle")
    payload = await cmd.get_translated_payload(client.tree, translator)
    assert payload["name_localizations"] == {"fr": "verifier", "en-US": "check", "en-GB": "check"}
    assert payload["description_localizations"]["fr"] == service.engine.t("cmd_check", "fr")
    assert payload["options"][0]["name_localizations"]["en-US"] == "text"
    await client.close()


async def test_discord_dm_check(adapter, commands, service):  # noqa: F811
    dm = Fake(adapter, member(12), guild=False, locale=discord.Locale.american_english)
    await commands["controle"].callback(dm, tekst=CODE)
    assert dm.contents()[0] == service.engine.t("caption_ok_ad", "en") and not any(kw.get("ephemeral") for _, kw in dm.sent)


# -- influbot check --json, as a process ------------------------------------------------------------


def test_check_json_contract_one_answer_per_line_in_order(tmp_path):
    lines = [
        json.dumps({"id": "gifted", "text": GIFTED}),
        "{not json",
        json.dumps({"id": "casino", "text": CASINO}),
        "",
        json.dumps({"id": 7, "text": None}),
        json.dumps(["a list"]),
        json.dumps({"id": "code", "text": CODE}),
        json.dumps({"id": "long", "text": "Advertentie | " + "mooie jurk van @merk " * 110}),
    ]
    env = {**os.environ, "INFLUBOT_DB": str(tmp_path / "unused.db")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--json"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    keys = {"id", "verdict", "flags", "suggestion", "lang"}
    gifted, bad, casino, empty, no_text, a_list, code, long = out
    assert set(gifted) == keys and gifted["verdict"] == "fix" and gifted["flags"] == ["commercial", "label_weak"]
    assert gifted["suggestion"] == "Advertentie | In samenwerking met @glowbelgium" and gifted["lang"] == "nl"
    assert casino == {
        "id": "casino",
        "verdict": "not_allowed",
        "flags": ["commercial", "gambling"],
        "suggestion": "",
        "lang": "nl",
    }
    assert code == {"id": "code", "verdict": "ok", "flags": ["commercial"], "suggestion": "", "lang": "nl"}
    assert long["verdict"] == "ok" and len(json.loads(lines[-1])["text"]) > 2200
    for answer in (bad, empty, no_text, a_list):
        assert answer["verdict"] is None and answer["error"] and set(answer) == keys | {"error"}
    assert no_text["id"] == 7 and bad["id"] is None
    assert not (tmp_path / "unused.db").exists(), "the check needs no database"


def test_check_json_survives_bytes_that_are_not_utf8_and_lone_surrogates(tmp_path):
    lines = [b"\xff\xfe not utf-8", b'{"id": "s\\ud800", "text": "van @merk gekregen \\ud800"}', b'{"id": "ok", "text": "hallo"}']
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--json"], input=b"\n".join(lines) + b"\n", capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [o["verdict"] for o in out] == [None, "fix", "ok"]
    assert out[1]["id"] == "s\ufffd" and out[1]["suggestion"] == "Advertentie | In samenwerking met @merk"
