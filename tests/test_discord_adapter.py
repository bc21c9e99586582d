"""Discord adapter, offline: command/button callbacks with fake interactions (no gateway, no HTTP)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock

import discord
import pytest
from discord import app_commands

from bot.adapters import discord_adapter as dc
from bot.core import quiz

_ids = itertools.count(1000)


def is_none(mentions: Any) -> bool:
    return (
        isinstance(mentions, discord.AllowedMentions)
        and mentions.everyone is False
        and mentions.users is False
        and mentions.roles is False
        and mentions.replied_user is False
    )


def member(uid: int, *, roles: tuple[int, ...] = (), manage: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        id=uid,
        name=f"user{uid}",
        display_name=f"User {uid}",
        bot=False,
        roles=[SimpleNamespace(id=r) for r in roles],
        guild_permissions=SimpleNamespace(manage_messages=manage),
        send=AsyncMock(),
    )


class Fake:
    """A fake discord.Interaction; every send is recorded in order as (how, kwargs)."""

    def __init__(self, adapter: dc.DiscordAdapter, user: Any, *, guild: bool = True, locale=discord.Locale.dutch, channel=None):
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.id = next(_ids)
        self.user = user
        self.guild = SimpleNamespace(id=42) if guild else None
        self.locale = locale
        self.channel = channel or SimpleNamespace(id=500)
        self.client = SimpleNamespace(adapter=adapter)
        self.message = SimpleNamespace(id=next(_ids))
        self.response = SimpleNamespace(
            send_message=AsyncMock(side_effect=self._rec("send")),
            edit_message=AsyncMock(side_effect=self._rec("edit")),
            defer=AsyncMock(side_effect=self._rec("defer")),
            is_done=lambda: self.done,
        )
        self.followup = SimpleNamespace(send=AsyncMock(side_effect=self._rec("followup")))
        self.done = False

    def _rec(self, how: str):
        async def record(*args: Any, **kwargs: Any) -> None:
            assert not args, "adapter always passes keyword arguments"
            if how == "followup":
                assert self.done, "a followup needs a response first"
            else:
                assert not self.done, f"{how}: an interaction gets exactly one response"
                self.done = True
            self.sent.append((how, kwargs))

        return record

    def contents(self) -> list[str]:
        return [kw.get("content") or "" for _, kw in self.sent]

    def views(self) -> list[discord.ui.View]:
        return [kw["view"] for _, kw in self.sent if kw.get("view") is not None]

    def check_mentions(self) -> None:
        for how, kw in self.sent:
            if how != "defer":
                assert is_none(kw.get("allowed_mentions")), (how, kw)


@pytest.fixture
def adapter(service):
    settings = service.settings
    return dc.DiscordAdapter(service, settings)


@pytest.fixture
def commands(adapter):
    return dc.commands_by_name(adapter)


def custom_ids(view: discord.ui.View) -> list[str]:
    return [item.custom_id for item in view.children]  # type: ignore[attr-defined]


async def press(adapter, user, custom_id: str, *, guild: bool = True) -> Fake:
    """Press a button the way a freshly started client would: rebuild the item from its custom id."""
    inter = Fake(adapter, user, guild=guild)
    item = await dc.item_from_custom_id(inter, custom_id)
    assert item is not None
    await item.callback(inter)
    inter.check_mentions()
    return inter


# -- user commands -----------------------------------------------------------------------------


async def test_faq_autocomplete_in_member_locale_then_embed_with_source(adapter, commands, service):
    cmd = commands["faq"]
    user = member(1)
    inter = Fake(adapter, user, locale=discord.Locale.french)
    autocomplete = cmd._params["vraag"].autocomplete
    choices = await autocomplete(inter, "")
    faq = service.engine.content.faq
    assert choices and all(isinstance(c, app_commands.Choice) for c in choices)
    first = choices[0]
    assert first.name == faq[first.value].question["fr"][:100]
    assert first.name != faq[first.value].question["nl"] or faq[first.value].question["nl"] == faq[first.value].question["fr"]

    await cmd.callback(inter, vraag=first.value)
    inter.check_mentions()
    how, kw = inter.sent[0]
    assert how == "send"
    embed = kw["embed"]
    assert embed.url == faq[first.value].link("fr")
    assert faq[first.value].answer["fr"].strip()[:50] in embed.description
    assert not kw.get("ephemeral")


async def test_vraag_crisis_in_guild_is_ephemeral_referral(adapter, commands, service):
    inter = Fake(adapter, member(2))
    await commands["vraag"].callback(inter, tekst="ik wil dood")
    inter.check_mentions()
    hit = service.engine.safety.detect("ik wil dood")
    assert hit is not None
    expected = service.engine.referrals.render(hit.topic, "nl", hit.severity).text
    how, kw = inter.sent[0]
    assert how == "send" and kw["ephemeral"] is True
    assert kw["content"] == (expected if len(expected) <= 2000 else dc.chunks(expected)[0])
    assert all(kw.get("ephemeral") is True for _, kw in inter.sent)
    assert inter.contents()[-1] == service.engine.t("group_private", "nl")


async def test_personal_commands_ephemeral_in_guild_and_public_in_dm(adapter, commands):
    inter = Fake(adapter, member(3))
    await commands["voortgang"].callback(inter)
    inter.check_mentions()
    assert inter.sent and all(kw.get("ephemeral") for _, kw in inter.sent)
    dm = Fake(adapter, member(3), guild=False)
    await commands["voortgang"].callback(dm)
    assert dm.sent and not any(kw.get("ephemeral") for _, kw in dm.sent)


async def test_quiz_buttons_restart_safe_to_the_end(adapter, commands, service, clock):
    user = member(4)
    key = f"dc:{user.id}"
    inter = Fake(adapter, user)
    await commands["quiz"].callback(inter, hoofdstuk="1")
    inter.check_mentions()
    engine = service.engine
    steps = 0
    while True:
        state = service.store.users.get(key)
        if state.quiz is None:
            break
        q = quiz.current(engine.content, state.quiz, state.lang)
        right = f"ib:{user.id}:{q.payloads[q.correct]}"
        assert len(right) <= 100
        shown = inter.views()[-1]
        assert right in custom_ids(shown)
        assert [b.item.label for b in shown.children] == [chr(ord("A") + i) for i in range(len(q.payloads))]  # type: ignore[attr-defined]
        clock.advance(3)  # a human pace: the core's flood control stays quiet
        inter = await press(adapter, user, right)  # a brand-new item, as after a restart
        how, kw = inter.sent[0]
        assert how == "edit" and kw["view"] is None
        feedback = kw["embed"].description if kw.get("embed") else kw["content"]
        assert engine.t("quiz_right", state.lang) in feedback
        steps += 1
        assert steps < 100
    n = steps
    score = engine.t("score", "nl", right=n, total=n, percent=100)
    assert any(score in c for c in inter.contents())
    assert service.store.users.get(key).best["1"] == 100


async def test_other_member_cannot_press(adapter, commands, service):
    owner, other = member(5), member(6)
    inter = Fake(adapter, owner)
    await commands["quiz"].callback(inter, hoofdstuk="1")
    before = service.store.users.get("dc:5").to_dict()
    cid = custom_ids(inter.views()[-1])[0]
    pressed = await press(adapter, other, cid)
    how, kw = pressed.sent[0]
    assert how == "send" and kw["ephemeral"] is True
    assert kw["content"] == dc.local("not_yours", "nl")
    assert service.store.users.get("dc:5").to_dict() == before
    assert service.store.users.get("dc:6").quiz is None


async def test_garbage_payload_gets_ephemeral_expired_text(adapter, service):
    user = member(7)
    pressed = await press(adapter, user, "ib:7:nonsense:zz")
    how, kw = pressed.sent[0]
    assert kw["ephemeral"] is True
    assert kw["content"] == service.engine.t("button_expired", "nl")
    assert dc.IbButton.__discord_ui_compiled_template__.fullmatch("xx:7:faq:a") is None


async def test_dm_text_goes_through_the_core(adapter, service):
    channel = SimpleNamespace(id=9, send=AsyncMock())
    message = SimpleNamespace(id=1, author=member(8), content="/hulplijnen", channel=channel, guild=None)
    await adapter.on_message(message)
    assert channel.send.await_count >= 1
    for call in channel.send.await_args_list:
        assert is_none(call.kwargs["allowed_mentions"])
    assert "112" in "".join(c.kwargs.get("content", "") for c in channel.send.await_args_list)


async def test_a_burst_waits_and_is_answered_a_crisis_never_waits(adapter, commands, service, clock):
    """Issue 12 point 6 / code review B1: no cooldown stands between a crisis message and its referral."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # the gate's wait, on the test clock
        slept.append(seconds)
        clock.advance(seconds)

    adapter.gate.sleep = sleep
    user = member(10)
    burst = [Fake(adapter, user) for _ in range(service.settings.flood_messages + 3)]
    crisis = Fake(adapter, user)
    import asyncio

    tasks = [asyncio.ensure_future(commands["hulplijnen"].callback(inter)) for inter in burst]
    await asyncio.sleep(0)
    await commands["vraag"].callback(crisis, tekst="ik wil niet meer leven")
    assert "1813" in "".join(crisis.contents()) and "112" in "".join(crisis.contents())
    assert not any(service.engine.t("slow_down", "nl") in c for c in crisis.contents())
    await asyncio.gather(*tasks)
    assert slept, "over the limit, commands wait their turn"
    for inter in burst:  # every one answered (in time: a response, then the answer as a followup)
        inter.check_mentions()
        assert any("112" in c for c in inter.contents()), inter.sent
    waited = burst[service.settings.flood_messages :]
    assert waited[0].contents()[0] == service.engine.t("slow_down", "nl")
    assert [how for how, _ in waited[1].sent][0] == "defer"


def test_long_text_is_split():
    text = "\n".join("x" * 150 for _ in range(40))
    pieces = dc.chunks(text)
    assert len(pieces) > 1 and all(len(p) <= 2000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


async def test_translator_localizes_names(engine):
    """Command names come from the core's one command table (the same table feeds Telegram's menu)."""
    tr = dc.Translator(dc.command_translations(engine.t))
    assert await tr.translate(app_commands.locale_str("vraag"), discord.Locale.french, None) == "question"
    assert await tr.translate(app_commands.locale_str("voortgang"), discord.Locale.american_english, None) == "progress"
    assert await tr.translate(app_commands.locale_str("voortgang"), discord.Locale.dutch, None) is None


# -- moderators ----------------------------------------------------------------------------------


def message_by(author, content: str) -> SimpleNamespace:
    return SimpleNamespace(id=next(_ids), author=author, content=content, channel=SimpleNamespace(id=501), guild=object())


async def test_non_moderator_context_menu_is_refused(adapter, commands, service):
    inter = Fake(adapter, member(11))
    menu = commands["Escaleer naar moderators"]
    await menu.callback(inter, message_by(member(12), "ik wil niet meer leven"))
    how, kw = inter.sent[0]
    assert kw["ephemeral"] is True and kw["content"] == dc.local("not_moderator", "nl")
    assert service.store.cases.list(include_closed=True) == []
    assert menu.default_permissions.manage_messages


async def test_moderator_escalation_opens_prioritised_case_and_dms_member(adapter, commands, service):
    mod = member(20, manage=True)
    target = member(21)
    inter = Fake(adapter, mod)
    await commands["Escaleer naar moderators"].callback(inter, message_by(target, "ik wil niet meer leven"))
    inter.check_mentions()
    case = service.desk.open_case_for("dc:21")
    assert case is not None and case["priority"] > 0 and case["channel"] == "discord"
    _, messages = service.desk.show("dc:20", case["id"])
    assert any(m["author"] == "quote" and m["text"] == "ik wil niet meer leven" for m in messages)
    dm = "".join(c.kwargs["content"] for c in target.send.await_args_list)
    assert "1813" in dm
    assert all(is_none(c.kwargs["allowed_mentions"]) for c in target.send.await_args_list)


async def test_mod_role_counts_and_open_case_menu(adapter, commands, service):
    from dataclasses import replace

    adapter.settings = replace(service.settings, discord_mod_role_id="77")
    inter = Fake(adapter, member(30, roles=(77,)))
    await commands["Open case"].callback(inter, member(31))
    case = service.desk.open_case_for("dc:31")
    assert case is not None and case["priority"] == 0
    # the role is checked on every action: without it, the same person is refused
    inter = Fake(adapter, member(30))
    await commands["Open case"].callback(inter, member(32))
    assert service.desk.open_case_for("dc:32") is None
    assert not adapter.moderators("dc:30")


class ModChannel:
    def __init__(self):
        self.threads: dict[int, SimpleNamespace] = {}

    async def create_thread(self, *, name: str, type, invitable: bool):
        thread = SimpleNamespace(id=700 + len(self.threads), name=name, type=type, send=AsyncMock())
        self.threads[thread.id] = thread
        return thread


async def test_thread_relay_to_telegram_user_and_close(adapter, commands, service):
    from dataclasses import replace

    adapter.settings = replace(service.settings, discord_mod_channel_id="600")
    service.desk.surfaces = ("mod:discord",)
    mod_channel = ModChannel()
    adapter.client = SimpleNamespace(
        get_channel=lambda cid: mod_channel if cid == 600 else mod_channel.threads.get(cid),
        fetch_channel=AsyncMock(),
        fetch_user=AsyncMock(),
    )
    mod = member(40, manage=True)
    assert adapter.is_moderator(mod)
    case_id = service.desk.escalate(
        moderator="dc:40", user="tg:5", channel="telegram", reason="seen in a group", topic="distress", priority=1
    )
    await adapter.pump_mod_surface()
    (thread,) = mod_channel.threads.values()
    assert thread.name.startswith(f"#{case_id} ! distress")
    assert thread.type == discord.ChannelType.private_thread
    assert service.store.threads.ref(case_id, "discord") == str(thread.id)
    assert service.desk.due("mod:discord") == []

    # a moderator types in the thread -> desk.reply -> the Telegram user's outbox
    await adapter.on_message(SimpleNamespace(id=1, author=mod, content="Hoi, ik ben er voor je.", channel=thread, guild=object()))
    due = service.desk.due("telegram", "tg:5")
    assert len(due) == 1 and "Hoi, ik ben er voor je." in due[0]["payload"]["text"]
    # a non-moderator typing in the thread changes nothing
    await adapter.on_message(SimpleNamespace(id=2, author=member(41), content="hallo", channel=thread, guild=object()))
    assert len(service.desk.due("telegram", "tg:5")) == 1

    inter = Fake(adapter, mod, channel=thread)
    await commands["close"].callback(inter)
    inter.check_mentions()
    assert service.store.cases.get(case_id)["status"] == "closed"
    await adapter.pump_mod_surface()
    assert thread.send.await_args_list[-1].kwargs["content"] == "closed"
    assert all(is_none(c.kwargs["allowed_mentions"]) for c in thread.send.await_args_list)

    # outside a case thread the desk commands explain themselves
    inter = Fake(adapter, mod, channel=SimpleNamespace(id=999))
    await commands["claim"].callback(inter)
    assert inter.sent[0][1]["content"] == dc.local("not_a_case_thread", "nl")


async def test_user_outbox_by_dm_and_closed_dms(adapter, service):
    good, closed = member(50), member(51)

    def forbidden(*args, **kwargs):
        raise discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), "Cannot send messages to this user")

    closed.send = AsyncMock(side_effect=forbidden)
    users = {50: good, 51: closed}
    adapter.client = SimpleNamespace(fetch_user=AsyncMock(side_effect=lambda uid: users[uid]), get_channel=lambda cid: None)
    service.desk.enqueue("discord", "dc:50", {"kind": "moderator", "text": "hallo @everyone"})
    bad = service.desk.enqueue("discord", "dc:51", {"kind": "moderator", "text": "hallo"})
    await adapter.deliver_outbox()
    assert good.send.await_args.kwargs["content"] == "hallo @everyone"
    assert is_none(good.send.await_args.kwargs["allowed_mentions"])
    row = service.store.outbox.get(bad)
    assert row["status"] == "dead" and row["attempts"] == 1 and "Forbidden" in row["error"], "closed DMs: dead at once"
    await adapter.deliver_outbox()
    assert closed.send.await_count == 1, "a dead letter is not retried"


async def test_transient_errors_back_off_then_dead_letter(adapter, service, clock):
    from bot.storage.base import MAX_ATTEMPTS

    flaky = member(52)

    def unavailable(*args, **kwargs):
        raise discord.HTTPException(SimpleNamespace(status=503, reason="Service Unavailable"), "try later")

    flaky.send = AsyncMock(side_effect=unavailable)
    adapter.client = SimpleNamespace(fetch_user=AsyncMock(return_value=flaky), get_channel=lambda cid: None)
    row_id = service.desk.enqueue("discord", "dc:52", {"kind": "moderator", "text": "hallo"})
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await adapter.deliver_outbox()
        row = service.store.outbox.get(row_id)
        assert row["attempts"] == attempt
        await adapter.deliver_outbox()  # not due yet: no new attempt
        assert service.store.outbox.get(row_id)["attempts"] == attempt
        waits.append(row["next_at"] - clock())
        clock.advance(1000)
    assert row["status"] == "dead" and flaky.send.await_count == MAX_ATTEMPTS
    assert all(0.5 * 2 ** (i + 1) <= w <= 1.5 * 2 ** (i + 1) for i, w in enumerate(waits[:-1])), waits


async def test_build_client_registers_commands_offline(service):
    client = dc.build_client(service, service.settings)
    names = {c.name for c in client.tree.get_commands()}
    assert {"faq", "vraag", "quiz", "examen", "voortgang", "hulplijnen", "mens", "taal", "vergeet"} <= names
    assert client.intents.message_content is False and client.intents.members is False
    assert is_none(client.allowed_mentions)
    await client.close()


async def test_serve_without_token_returns_2(service, capsys):
    from dataclasses import replace

    assert await dc.serve(service, replace(service.settings, discord_token=None)) == 2
    assert "DISCORD_BOT_TOKEN" in capsys.readouterr().err


async def test_serve_login_failure_is_clear_and_secret_free(service, capsys, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(dc.InflubotClient, "start", AsyncMock(side_effect=discord.LoginFailure("Improper token")))
    code = await dc.serve(service, replace(service.settings, discord_token="secret-token-123"))
    err = capsys.readouterr().err
    assert code == 2 and "rejected" in err and "secret-token-123" not in err


async def test_command_payloads_are_valid_and_localized(service):
    """What setup_hook would sync, built offline: valid names, nl default, fr/en localizations."""
    client = dc.build_client(service, service.settings)
    translator = dc.Translator(client.adapter.translations)
    payloads = {}
    for cmd in client.tree.get_commands(type=None):
        payloads[cmd.name] = await cmd.get_translated_payload(client.tree, translator)
    assert payloads["voortgang"]["name_localizations"] == {"fr": "progression", "en-US": "progress", "en-GB": "progress"}
    vraag = payloads["faq"]["options"][0]
    assert vraag["autocomplete"] is True and vraag["name_localizations"]["fr"] == "question"
    quiz_options = payloads["quiz"]["options"][0]["choices"]
    assert [c["value"] for c in quiz_options][-1] == "random" and len(quiz_options) >= 2
    first = service.engine.content.chapters[int(quiz_options[0]["value"])]
    assert quiz_options[0]["name_localizations"]["fr"].endswith(first.title["fr"][:90])
    assert payloads["Escaleer naar moderators"]["type"] == discord.AppCommandType.message.value
    manage = discord.Permissions(manage_messages=True).value
    assert int(payloads["Escaleer naar moderators"]["default_member_permissions"]) == manage
    assert int(payloads["close"]["default_member_permissions"]) == manage
    await client.close()


def test_message_content_intent_is_opt_in():
    from bot.config import Settings

    assert not dc.intents(Settings.from_env({})).message_content
    assert dc.intents(Settings.from_env({"DISCORD_MESSAGE_CONTENT": "1"})).message_content


async def test_an_unexpected_error_gets_an_apology(adapter, commands, service, monkeypatch, caplog):
    def broken(inbound, state):
        raise KeyError("geheime tekst")

    monkeypatch.setattr(service.engine, "handle", broken)
    inter = Fake(adapter, member(20))
    await commands["vraag"].callback(inter, tekst="mijn geheime tekst")
    inter.check_mentions()
    assert inter.contents() == [service.engine.t("error_apology", "nl")]
    assert "KeyError" in caplog.text and "geheime" not in caplog.text


async def test_a_crisis_that_hits_an_error_still_gets_the_referral(adapter, commands, service, monkeypatch):
    monkeypatch.setattr(service.engine, "handle", lambda inbound, state: 1 / 0)
    inter = Fake(adapter, member(21))
    await commands["vraag"].callback(inter, tekst="ik wil niet meer leven")
    assert "1813" in inter.contents()[0] and service.engine.t("error_apology", "nl") in inter.contents()
    assert all(kw.get("ephemeral") for _, kw in inter.sent), "a referral stays private in a server"


async def test_dm_with_bad_input_and_a_failing_send(adapter, service, caplog):
    channel = SimpleNamespace(id=9, send=AsyncMock())
    for text in ("²", "/quiz ②", "hoi \ud800", "\x00" * 10):
        await adapter.on_message(SimpleNamespace(id=next(_ids), author=member(22), content=text, channel=channel, guild=None))
    assert channel.send.await_count >= 4
    assert not any(service.engine.t("error_apology", "nl") == c.kwargs.get("content") for c in channel.send.await_args_list)
    channel.send = AsyncMock(
        side_effect=[discord.HTTPException(SimpleNamespace(status=500, reason="x"), "boom"), None, None, None]
    )
    await adapter.on_message(
        SimpleNamespace(id=next(_ids), author=member(22), content="wat kost het?", channel=channel, guild=None)
    )
    assert "discord DM" in caplog.text
