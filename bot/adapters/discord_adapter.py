"""Discord adapter (discord.py 2): a thin translation between interactions/messages and the core.

Everything the bot *decides* lives in the core (`Service.process`) and the desk. This module turns slash
commands, buttons and DMs into `Inbound`s, reply parts into Discord messages, and relays the desk outboxes
(case events to private threads in the moderators' channel, moderator replies to members by DM).

Buttons are `DynamicItem`s whose custom id carries everything (`ib:<owner>:<payload>`), so a new process
after a restart still handles buttons sent by an old one.

The gateway loop never waits on the database: the engine and every store call run on the offload pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
from typing import Any

import discord
from discord import app_commands

from bot.config import Settings
from bot.core import commands
from bot.core.i18n import Strings
from bot.core.quiz import LETTERS
from bot.core.render import question_text
from bot.core.text import valid_unicode
from bot.core.types import Choices, HandoffNotice, Inbound, QuizQuestion, Referral, Reply, Text
from bot.desk import commands as desk_commands
from bot.desk.desk import NotAllowed, NotFound
from bot.desk.moderators import Moderators
from bot.desk.outbox import Relay
from bot.flood import FloodGate
from bot.guard import log_failure
from bot.offload import offload
from bot.service import Service
from bot.storage.base import Row

log = logging.getLogger(__name__)

CHANNEL = "discord"
SURFACE = "mod:discord"
MAX_MESSAGE = 2000
MAX_EMBED = 4096
MAX_CUSTOM_ID = 100
MAX_LABEL = 80
POLL_SECONDS = 1.0
LANGS = ("nl", "fr", "en")
NONE = discord.AllowedMentions.none()
PRIVATE_PAYLOADS = ("forget:", "human:", "cmd:progress", "cmd:human", "cmd:forget", "cmd:review")

# Discord-only texts (the core's strings live in knowledge/ui.yml).
LOCAL: dict[str, dict[str, str]] = {
    "not_yours": {
        "nl": "Deze knop hoort bij iemand anders. Gebruik zelf een commando, bv. /quiz.",
        "fr": "Ce bouton appartient à quelqu'un d'autre. Utilisez vous-même une commande, p. ex. /quiz.",
        "en": "This button belongs to someone else. Use a command yourself, e.g. /quiz.",
    },
    "not_moderator": {
        "nl": "Sorry, dit kunnen alleen moderators doen.",
        "fr": "Désolé, seuls les modérateurs peuvent faire cela.",
        "en": "Sorry, only moderators can do this.",
    },
    "escalated_note": {
        "nl": "Hoi, een moderator heeft je bericht gezien en wil zeker zijn dat je weet waar je terechtkan. "
        "Je kan mij hier ook een privébericht sturen.",
        "fr": "Bonjour, un modérateur a vu votre message et veut s'assurer que vous savez où trouver de l'aide. "
        "Vous pouvez aussi m'écrire ici en privé.",
        "en": "Hi, a moderator saw your message and wants to make sure you know where to find help. "
        "You can also message me here privately.",
    },
    "not_a_case_thread": {
        "nl": "Gebruik dit in de thread van een case.",
        "fr": "Utilisez ceci dans le fil d'un dossier.",
        "en": "Use this inside a case thread.",
    },
}

# Slash command names/descriptions: Dutch is the default, these are the localizations.
TRANSLATIONS: dict[str, dict[str, str]] = {  # the user commands come from bot.core.commands.TABLE
    "faq": {"fr": "faq", "en": "faq"},
    "Antwoord op een veelgestelde vraag": {"fr": "Réponse à une question fréquente", "en": "Answer to a frequent question"},
    "vraag": {"fr": "question", "en": "question"},
    "Begin te typen en kies een vraag": {"fr": "Commencez à taper et choisissez", "en": "Start typing and pick a question"},
    "Stel een vraag in je eigen woorden": {"fr": "Posez une question avec vos mots", "en": "Ask a question in your own words"},
    "tekst": {"fr": "texte", "en": "text"},
    "Je vraag of bericht": {"fr": "Votre question ou message", "en": "Your question or message"},
    "De caption die je wil posten": {"fr": "La légende que vous voulez publier", "en": "The caption you want to post"},
    "hoofdstuk": {"fr": "chapitre", "en": "chapter"},
    "Welk hoofdstuk?": {"fr": "Quel chapitre ?", "en": "Which chapter?"},
    "willekeurig": {"fr": "au hasard", "en": "random"},
    "Escaleer naar moderators": {"fr": "Escalader aux modérateurs", "en": "Escalate to moderators"},
    "Open case": {"fr": "Ouvrir un dossier", "en": "Open case"},
}

DISCORD_LOCALES = {
    discord.Locale.dutch: "nl",
    discord.Locale.french: "fr",
    discord.Locale.american_english: "en",
    discord.Locale.british_english: "en",
}


def lang_of(locale: Any) -> str | None:
    """'nl', 'fr' or 'en' for a Discord locale (enum or string), else None."""
    if locale is None:
        return None
    value = str(getattr(locale, "value", locale)).lower()[:2]
    return value if value in LANGS else None


def local(key: str, lang: str | None) -> str:
    return LOCAL[key].get(lang or "nl", LOCAL[key]["nl"])


def chunks(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split text into pieces of at most `limit` characters, preferring line breaks."""
    out: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not out:
        out.append(text)
    return out


def command_translations(strings: Strings) -> dict[str, dict[str, str]]:
    """Names and descriptions of the user commands per language, from the core's one command table."""
    out: dict[str, dict[str, str]] = {}
    for canon, names in commands.TABLE.items():
        out[names["nl"]] = {lang: names[lang] for lang in ("fr", "en")}
        out[strings(f"cmd_{canon}", "nl")] = {lang: strings(f"cmd_{canon}", lang) for lang in ("fr", "en")}
    return out


class Translator(app_commands.Translator):
    """Localized command names and descriptions (nl default; fr, en-US, en-GB)."""

    def __init__(self, extra: dict[str, dict[str, str]] | None = None):
        self.table = {**TRANSLATIONS, **(extra or {})}

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        lang = DISCORD_LOCALES.get(locale)
        if lang is None or lang == "nl":
            return None
        key = string.extras.get("key", string.message)
        return self.table.get(key, {}).get(lang)


# -- buttons ----------------------------------------------------------------------------------------


class IbButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ib:(?P<owner>[0-9]{1,20}):(?P<payload>.{1,76})"):
    """A restart-safe button: owner and core payload live in the custom id."""

    def __init__(self, owner: int, payload: str, label: str = "?", style: discord.ButtonStyle = discord.ButtonStyle.secondary):
        self.owner = int(owner)
        self.payload = payload
        super().__init__(discord.ui.Button(label=label[:MAX_LABEL] or "?", style=style, custom_id=f"ib:{self.owner}:{payload}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]) -> IbButton:
        return cls(int(match["owner"]), match["payload"], label=item.label or "?", style=item.style)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        adapter: DiscordAdapter = interaction.client.adapter  # type: ignore[attr-defined]
        await adapter.on_button(interaction, self.owner, self.payload)


async def item_from_custom_id(interaction: Any, custom_id: str) -> IbButton | None:
    """What discord.py does for a pressed button: rebuild the item from its custom id alone."""
    match = IbButton.__discord_ui_compiled_template__.fullmatch(custom_id)
    if match is None:
        return None
    return await IbButton.from_custom_id(interaction, discord.ui.Button(label="?", custom_id=custom_id), match)


def make_view(owner: int, options: list[tuple[str, str]], letters: bool = False) -> discord.ui.View | None:
    view = discord.ui.View(timeout=None)
    for label, payload in options[:25]:
        if len(f"ib:{owner}:{payload}") > MAX_CUSTOM_ID:
            continue
        style = discord.ButtonStyle.primary if letters else discord.ButtonStyle.secondary
        view.add_item(IbButton(owner, payload, label, style))
    return view if view.children else None


# -- the adapter ----------------------------------------------------------------------------------


def permanent(exc: BaseException) -> bool:
    """Errors a retry cannot fix: DMs closed or the member/thread gone, or a malformed row."""
    return isinstance(exc, (discord.Forbidden, discord.NotFound, KeyError, ValueError, TypeError))


class DmSender:
    """Moderator replies and notices -> the member's DMs."""

    channel = CHANNEL

    def __init__(self, adapter: DiscordAdapter):
        self.adapter = adapter

    async def send(self, row: Row) -> None:
        if self.adapter.client is None:
            raise RuntimeError("not connected")
        user = await self.adapter.client.fetch_user(int(row["target"].split(":", 1)[1]))
        for piece in chunks(row["payload"]["text"]):
            await user.send(content=piece, allowed_mentions=NONE)

    def permanent(self, exc: BaseException) -> bool:
        return permanent(exc)


class ThreadSender:
    """Case events -> one private thread per case in the moderators' channel."""

    channel = SURFACE

    def __init__(self, adapter: DiscordAdapter):
        self.adapter = adapter

    async def send(self, row: Row) -> None:
        adapter = self.adapter
        event = row["payload"]
        case_id = int(event["case_id"])
        case = await offload(adapter.service.store.cases.get, case_id)
        if case is None:
            raise ValueError(f"case {case_id} is gone")
        thread = await adapter.thread_for(case)
        if event["event"] == "opened":
            intro = f"case #{case_id} · {case['display_name']} ({case['user']}, {case['channel']}) · {case['topic']}"
            await thread.send(content=intro[:MAX_MESSAGE], allowed_mentions=NONE)
            return
        text = "closed" if event["event"] == "closed" else event.get("text", "")
        for piece in chunks(text):
            await thread.send(content=piece, allowed_mentions=NONE)

    def permanent(self, exc: BaseException) -> bool:
        return permanent(exc)


class DiscordAdapter:
    def __init__(self, service: Service, settings: Settings, moderators: Moderators | None = None):
        self.service = service
        self.settings = settings
        self.engine = service.engine
        self.desk = service.desk
        found = getattr(service.desk, "is_moderator", None)
        self.moderators = moderators or (found if isinstance(found, Moderators) else Moderators())
        # The one flood control (shared with Telegram's design): nothing is refused, a crisis never waits.
        self.gate = FloodGate(settings.flood_messages, settings.flood_seconds, service.urgency, clock=service.clock)
        self.client: Any = None
        # content-derived localizations: command names and descriptions, chapter titles
        self.translations: dict[str, dict[str, str]] = command_translations(service.engine.t)
        self.relay = Relay(
            service.store.outbox, [DmSender(self), ThreadSender(self)], lease_seconds=settings.outbox_lease_seconds
        )

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def key(user: Any) -> str:
        return f"dc:{user.id}"

    async def lang(self, user_key: str) -> str:
        return await offload(self.desk.user_lang, user_key)

    async def ui_lang(self, interaction: Any) -> str:
        return lang_of(getattr(interaction, "locale", None)) or await self.lang(self.key(interaction.user))

    async def process(self, inbound: Inbound) -> tuple[Reply, str]:
        """The core's reply and the user's language after it, computed off the event loop."""

        def work() -> tuple[Reply, str]:
            reply = self.service.process(inbound)
            return reply, self.desk.user_lang(inbound.user)

        return await offload(work)

    def is_moderator(self, member: Any) -> bool:
        """Role or Manage Messages; verified keys are what the desk's predicate accepts."""
        key = self.key(member)
        role = self.settings.discord_mod_role_id
        roles = {str(r.id) for r in (getattr(member, "roles", None) or [])}
        perms = getattr(member, "guild_permissions", None)
        ok = bool((role and role in roles) or (perms is not None and perms.manage_messages))
        if ok:
            self.moderators.grant(key)
        else:
            self.moderators.revoke(key)
        return ok

    def inbound(self, interaction: Any, text: str = "", payload: str = "") -> Inbound:
        user = interaction.user
        return Inbound(
            user=self.key(user),
            text=text,
            kind="choice" if payload else "text",
            payload=payload,
            channel=CHANNEL,
            lang_hint=lang_of(getattr(interaction, "locale", None)),
            message_id=None if payload else str(getattr(interaction, "id", "")) or None,
            display_name=getattr(user, "display_name", None) or getattr(user, "name", None),
        )

    # -- rendering --------------------------------------------------------------------------------

    def messages(self, reply: Reply, owner: int, lang: str) -> list[dict[str, Any]]:
        """Reply parts -> keyword arguments for send_message/followup.send/channel.send."""
        out: list[dict[str, Any]] = []
        for part in reply:
            if isinstance(part, Text) and part.source_url and len(part.text) <= MAX_EMBED:
                body = part.text
                tail = f"\n\n{self.engine.t('source', lang)}: {part.source_url}"
                if body.endswith(tail):
                    body = body[: -len(tail)]
                embed = discord.Embed(description=body, url=part.source_url)
                embed.set_footer(text=part.source_url[:2048])
                out.append({"embed": embed})
            elif isinstance(part, (Text, Referral, HandoffNotice)):
                out.extend({"content": piece} for piece in chunks(part.text))
            elif isinstance(part, Choices):
                view = make_view(owner, [(c.label, c.payload) for c in part.options])
                pieces = chunks(part.prompt or "…")
                out.extend({"content": piece} for piece in pieces[:-1])
                out.append({"content": pieces[-1], "view": view} if view else {"content": pieces[-1]})
            elif isinstance(part, QuizQuestion):
                labels = [LETTERS[i].upper() for i in range(len(part.payloads))]
                view = make_view(owner, list(zip(labels, part.payloads, strict=False)), letters=True)
                pieces = chunks(question_text(part, self.engine.t, lang))
                out.extend({"content": piece} for piece in pieces[:-1])
                out.append({"content": pieces[-1], "view": view} if view else {"content": pieces[-1]})
        return out

    def private(self, reply: Reply, personal: bool, payload: str = "") -> bool:
        if personal or payload.startswith(PRIVATE_PAYLOADS):
            return True
        return any(isinstance(p, (Referral, HandoffNotice)) for p in reply)

    async def answer(
        self,
        interaction: Any,
        reply: Reply,
        *,
        personal: bool = False,
        payload: str = "",
        edit: bool = False,
        lang: str | None = None,
    ) -> None:
        """Send a core reply as the interaction's response (+ followups; only followups once it was answered)."""
        lang = lang or await self.lang(self.key(interaction.user))
        in_guild = interaction.guild is not None
        ephemeral = in_guild and self.private(reply, personal, payload)
        expired = self.engine.t("button_expired", lang)
        if payload and any(isinstance(p, Text) and p.text == expired for p in reply):
            ephemeral = True
        msgs = self.messages(reply, interaction.user.id, lang)
        if in_guild and ephemeral and any(isinstance(p, Referral) for p in reply):
            msgs.append({"content": self.engine.t("group_private", lang)})
        first = not responded(interaction)
        if not msgs:
            if first:
                await interaction.response.defer()
            return
        accepted = len(reply) >= 2 or isinstance(reply[0], QuizQuestion)  # not e.g. a lone "slow down"
        if edit and first and not ephemeral and accepted:
            # Quiz feedback: keep the question, swap its buttons for the verdict (exam: the next question).
            head = msgs[0]
            edited: dict[str, Any] = {"view": head.get("view"), "allowed_mentions": NONE}
            if "view" in head:
                edited["content"] = head["content"]
            elif "embed" in head:
                edited["embed"] = head["embed"]
            else:
                original = getattr(getattr(interaction, "message", None), "content", None) or ""
                both = f"{original}\n\n{head['content']}" if original else head["content"]
                edited["content"] = both if len(both) <= MAX_MESSAGE else head["content"]
            await interaction.response.edit_message(**edited)
            msgs, first = msgs[1:], False
        for kwargs in msgs:
            if ephemeral:
                kwargs["ephemeral"] = True
            if first:
                await interaction.response.send_message(allowed_mentions=NONE, **kwargs)
                first = False
            else:
                await interaction.followup.send(allowed_mentions=NONE, **kwargs)

    async def say(self, interaction: Any, text: str, *, ephemeral: bool = True) -> None:
        pieces = chunks(text)
        await interaction.response.send_message(content=pieces[0], ephemeral=ephemeral, allowed_mentions=NONE)
        for piece in pieces[1:]:
            await interaction.followup.send(content=piece, ephemeral=ephemeral, allowed_mentions=NONE)

    async def run(self, interaction: Any, inbound: Inbound, *, personal: bool = False, edit: bool = False) -> None:
        """Handle one interaction (off the event loop) and answer it; on an unexpected error the member gets a short apology."""
        try:
            reply, lang = await self.process(inbound)
            await self.answer(interaction, reply, personal=personal, payload=inbound.payload, edit=edit, lang=lang)
        except Exception as exc:  # noqa: BLE001 - no input may crash the bot
            log_failure(log, "discord interaction", exc)
            try:
                await self.answer(interaction, await offload(self.service.apology, inbound), personal=True, lang="nl")
            except Exception as again:  # noqa: BLE001
                log_failure(log, "discord apology", again)

    async def command(
        self, interaction: Any, text: str = "", payload: str = "", personal: bool = False, edit: bool = False
    ) -> None:
        """Through flood control: over the limit the member is told once and the command waits; never refused."""

        async def on_wait(first: bool) -> None:
            if first:
                await self.say(interaction, self.engine.t("slow_down", await self.ui_lang(interaction)))
            else:  # every interaction must be acknowledged within 3 s; the answer follows when its turn comes
                await interaction.response.defer(ephemeral=True, thinking=True)

        created = getattr(interaction, "created_at", None)
        await self.gate.submit(
            self.inbound(interaction, text=text, payload=payload),
            lambda inbound: self.run(interaction, inbound, personal=personal, edit=edit),
            sent_at=created.timestamp() if created is not None else None,
            mergeable=False,
            on_wait=on_wait,
        )

    # -- user-facing callbacks ------------------------------------------------------------------

    async def faq_autocomplete(self, interaction: Any, current: str) -> list[app_commands.Choice[str]]:
        lang = lang_of(getattr(interaction, "locale", None)) or "nl"
        needle = current.strip().lower()
        found = []
        for faq_id, entry in self.engine.content.faq.items():
            question = entry.question.get(lang) or entry.question.get("nl") or faq_id
            if not needle or needle in question.lower():
                found.append(app_commands.Choice(name=question[:100], value=faq_id))
            if len(found) == 25:
                break
        return found

    async def faq(self, interaction: Any, vraag: str) -> None:
        if vraag in self.engine.content.faq:
            await self.command(interaction, payload=f"faq:{vraag}")
        else:
            await self.command(interaction, text=vraag)

    async def on_button(self, interaction: Any, owner: int, payload: str) -> None:
        if interaction.user.id != owner:
            await self.say(interaction, local("not_yours", await self.ui_lang(interaction)))
            return
        await self.command(interaction, payload=payload, edit=payload.startswith("ans:"))

    async def on_dm(self, message: Any) -> None:
        user = message.author

        async def handle(inbound: Inbound) -> None:
            try:
                reply, lang = await self.process(inbound)
                for kwargs in self.messages(reply, user.id, lang):
                    await message.channel.send(allowed_mentions=NONE, **kwargs)
            except Exception as exc:  # noqa: BLE001 - no input may crash the bot
                log_failure(log, "discord DM", exc)
                try:
                    for kwargs in self.messages(await offload(self.service.apology, inbound), user.id, "nl"):
                        await message.channel.send(allowed_mentions=NONE, **kwargs)
                except Exception as again:  # noqa: BLE001
                    log_failure(log, "discord apology", again)

        async def on_wait(first: bool) -> None:
            if first:
                lang = await self.lang(self.key(user))
                await message.channel.send(content=self.engine.t("slow_down", lang), allowed_mentions=NONE)

        created = getattr(message, "created_at", None)
        await self.gate.submit(
            Inbound(
                user=self.key(user),
                text=message.content or "",
                channel=CHANNEL,
                message_id=str(message.id),
                display_name=getattr(user, "display_name", None) or getattr(user, "name", None),
            ),
            handle,
            sent_at=created.timestamp() if created is not None else None,
            conversation=getattr(message.channel, "id", None),
            on_wait=on_wait,
        )

    async def on_message(self, message: Any) -> None:
        if getattr(message.author, "bot", False):
            return
        if isinstance(message.channel, discord.DMChannel) or getattr(message, "guild", 1) is None:
            await self.on_dm(message)
            return
        case_id = await self.case_for_thread(message.channel)
        if case_id is None or not (message.content or "").strip():
            return
        if not self.is_moderator(message.author):
            return
        name = getattr(message.author, "display_name", None)
        try:
            await offload(self.desk.reply, self.key(message.author), case_id, valid_unicode(message.content), name)
        except (NotAllowed, NotFound, ValueError) as exc:
            with contextlib.suppress(discord.HTTPException):
                await message.channel.send(content=f"not sent: {exc}", allowed_mentions=NONE)
        except Exception as exc:  # noqa: BLE001
            log_failure(log, "discord moderator message", exc)
            with contextlib.suppress(discord.HTTPException):
                await message.channel.send(content="not sent: something went wrong (logged)", allowed_mentions=NONE)

    # -- moderators -------------------------------------------------------------------------------

    async def escalate(self, interaction: Any, message: Any) -> None:
        await self._open(interaction, message.author, message.content or "")

    async def open_case(self, interaction: Any, member: Any) -> None:
        await self._open(interaction, member, "")

    async def _open(self, interaction: Any, member: Any, quoted: str) -> None:
        lang = await self.ui_lang(interaction)
        if not self.is_moderator(interaction.user):
            await self.say(interaction, local("not_moderator", lang))
            return
        hit = self.engine.safety.detect(quoted) if quoted else None
        user_key = self.key(member)
        name = getattr(member, "display_name", None) or getattr(member, "name", None)
        try:
            case_id = await offload(
                self.desk.escalate,
                moderator=self.key(interaction.user),
                user=user_key,
                channel=CHANNEL,
                reason="escalated from Discord",
                quoted=quoted,
                topic=hit.topic if hit else "",
                priority=2 if hit and hit.acute else 1 if hit else 0,
                display_name=name,
            )
        except NotAllowed:
            await self.say(interaction, local("not_moderator", lang))
            return
        note = f"case #{case_id}" + (f" · {hit.topic}" if hit else "")
        if hit:
            member_lang = await self.lang(user_key)
            text = f"{local('escalated_note', member_lang)}\n\n{self.engine.referrals.render(hit.topic, member_lang, hit.severity).text}"
            try:
                for piece in chunks(text):
                    await member.send(content=piece, allowed_mentions=NONE)
            except (discord.HTTPException, AttributeError) as exc:
                log.info("escalation DM to %s failed: %s", user_key, exc)
                note += " · DM failed (DMs closed?)"
        await self.say(interaction, note)

    async def case_for_thread(self, channel: Any) -> int | None:
        if channel is None:
            return None
        return await offload(self.service.store.threads.case, "discord", str(channel.id))

    async def _mod_case(self, interaction: Any) -> int | None:
        if not self.is_moderator(interaction.user):
            await self.say(interaction, local("not_moderator", await self.ui_lang(interaction)))
            return None
        case_id = await self.case_for_thread(interaction.channel)
        if case_id is None:
            await self.say(interaction, local("not_a_case_thread", await self.ui_lang(interaction)))
        return case_id

    async def mod_action(self, interaction: Any, action: str, arg: str = "") -> None:
        case_id = await self._mod_case(interaction)
        if case_id is None:
            return
        mod = self.key(interaction.user)
        name = getattr(interaction.user, "display_name", None) if action in ("reply", "snippet") else None
        arg = valid_unicode(arg)
        try:
            text = await offload(desk_commands.run, self.desk, mod, action, case_id, arg, name)
        except NotAllowed:
            text = local("not_moderator", await self.ui_lang(interaction))
        except (NotFound, ValueError) as exc:  # Usage is a ValueError
            text = str(exc)
        except Exception as exc:  # noqa: BLE001
            log_failure(log, "discord moderator command", exc)
            text = "something went wrong; nothing was done (logged)"
        await self.say(
            interaction, text, ephemeral=action not in ("close", "claim", "note", "reply", "snippet", "reopen", "release")
        )

    # -- outboxes ---------------------------------------------------------------------------------

    async def thread_for(self, case: Row) -> Any:
        """The case's private thread in the moderators' channel, created on first use."""
        if self.client is None or not self.settings.discord_mod_channel_id:
            raise RuntimeError("no moderators' channel")
        ref = await offload(self.service.store.threads.ref, case["id"], "discord")
        if ref is not None:
            return self.client.get_channel(int(ref)) or await self.client.fetch_channel(int(ref))
        channel = self.client.get_channel(int(self.settings.discord_mod_channel_id))
        if channel is None:
            raise RuntimeError("moderators' channel not visible")
        title = f"#{case['id']} {'!' * int(case['priority'] or 0)} {case['topic'] or ''}".replace("  ", " ").strip()
        thread = await channel.create_thread(name=title[:100], type=discord.ChannelType.private_thread, invitable=False)
        await offload(self.service.store.threads.save, case["id"], "discord", str(thread.id))
        return thread

    async def pump_mod_surface(self) -> int:
        """Case events -> private threads in the moderators' channel."""
        if self.client is None or not self.settings.discord_mod_channel_id:
            return 0
        return await self.relay.flush(SURFACE)

    async def deliver_outbox(self) -> int:
        """Moderator replies and notices -> the member's DMs."""
        if self.client is None:
            return 0
        return await self.relay.flush(CHANNEL)

    async def poll_forever(self) -> None:
        await self.relay.run_forever()


# -- commands ---------------------------------------------------------------------------------------


def responded(interaction: Any) -> bool:
    """Whether the interaction already got its one response (then only followups may be sent)."""
    is_done = getattr(interaction.response, "is_done", None)
    return bool(is_done()) if callable(is_done) else False


def _t(text: str, key: str | None = None) -> app_commands.locale_str:
    return app_commands.locale_str(text, key=key or text)


def build_commands(adapter: DiscordAdapter) -> list[app_commands.Command[Any, ..., Any] | app_commands.ContextMenu]:
    """The slash commands and context menus, as closures over the adapter (tests call `.callback`)."""
    chapters = adapter.engine.content.chapters
    chapter_choices = [
        app_commands.Choice(name=_t(f"{n}. {ch.title['nl']}"[:100], f"chapter_{n}"), value=str(n)) for n, ch in chapters.items()
    ][:24]
    chapter_choices.append(app_commands.Choice(name=_t("willekeurig"), value="random"))
    for n, ch in chapters.items():
        adapter.translations[f"chapter_{n}"] = {lang: f"{n}. {ch.title[lang]}"[:100] for lang in ("fr", "en") if lang in ch.title}

    @app_commands.command(name=_t("faq"), description=_t("Antwoord op een veelgestelde vraag"))
    @app_commands.rename(vraag=_t("vraag"))
    @app_commands.describe(vraag=_t("Begin te typen en kies een vraag"))
    async def faq(interaction: discord.Interaction, vraag: str) -> None:
        await adapter.faq(interaction, vraag)

    @faq.autocomplete("vraag")
    async def faq_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await adapter.faq_autocomplete(interaction, current)

    @app_commands.command(name=_t("vraag"), description=_t("Stel een vraag in je eigen woorden"))
    @app_commands.rename(tekst=_t("tekst"))
    @app_commands.describe(tekst=_t("Je vraag of bericht"))
    async def vraag(interaction: discord.Interaction, tekst: str) -> None:
        await adapter.command(interaction, text=tekst)

    check_name, check_description = commands.TABLE["check"]["nl"], adapter.engine.t("cmd_check", "nl")

    @app_commands.command(name=_t(check_name), description=_t(check_description))
    @app_commands.rename(tekst=_t("tekst"))
    @app_commands.describe(tekst=_t("De caption die je wil posten"))
    async def controle(interaction: discord.Interaction, tekst: str) -> None:
        await adapter.command(interaction, text=f"/{commands.TABLE['check']['en']} {tekst}", personal=True)

    @app_commands.command(name=_t("quiz"), description=_t("Oefenen per hoofdstuk"))
    @app_commands.rename(hoofdstuk=_t("hoofdstuk"))
    @app_commands.describe(hoofdstuk=_t("Welk hoofdstuk?"))
    @app_commands.choices(hoofdstuk=chapter_choices)
    async def quiz_cmd(interaction: discord.Interaction, hoofdstuk: str | None = None) -> None:
        if hoofdstuk:
            await adapter.command(interaction, payload=f"quiz:{hoofdstuk}")
        else:
            await adapter.command(interaction, text="/quiz")

    def simple(name: str, description: str, text: str, personal: bool = False) -> app_commands.Command[Any, ..., Any]:
        async def callback(interaction: discord.Interaction) -> None:
            await adapter.command(interaction, text=text, personal=personal)

        return app_commands.Command(name=_t(name), description=_t(description), callback=callback)

    @app_commands.command(name=_t("taal"), description=_t("Taal kiezen"))
    @app_commands.choices(
        taal=[app_commands.Choice(name=n, value=v) for n, v in (("Nederlands", "nl"), ("Français", "fr"), ("English", "en"))]
    )
    async def taal(interaction: discord.Interaction, taal: str | None = None) -> None:
        await adapter.command(interaction, text=f"/taal {taal}" if taal else "/taal", personal=True)

    @app_commands.default_permissions(manage_messages=True)
    @app_commands.guild_only()
    async def escalate(interaction: discord.Interaction, message: discord.Message) -> None:
        await adapter.escalate(interaction, message)

    @app_commands.default_permissions(manage_messages=True)
    @app_commands.guild_only()
    async def open_case(interaction: discord.Interaction, member: discord.Member) -> None:
        await adapter.open_case(interaction, member)

    mod: list[app_commands.Command[Any, ..., Any]] = []

    def mod_command(name: str, description: str, with_arg: str | None = None) -> None:
        if with_arg:

            async def callback_arg(interaction: discord.Interaction, tekst: str) -> None:
                await adapter.mod_action(interaction, name, tekst)

            cmd = app_commands.Command(name=name, description=description, callback=callback_arg)
        else:

            async def callback(interaction: discord.Interaction) -> None:
                await adapter.mod_action(interaction, name)

            cmd = app_commands.Command(name=name, description=description, callback=callback)
        app_commands.default_permissions(manage_messages=True)(cmd)
        app_commands.guild_only()(cmd)
        mod.append(cmd)

    mod_command("claim", "Claim this case")
    mod_command("note", "Internal note on this case", "text")
    mod_command("reply", "Reply to the member (same as typing in the thread)", "text")
    mod_command("close", "Close this case")
    mod_command("block", "Block the member (hours, default 24)", "hours")
    mod_command("snippet", "Send a saved referral text (topic name)", "name")

    return [
        faq,
        vraag,
        controle,
        quiz_cmd,
        simple("examen", "Examensimulatie", "/examen"),
        simple("voortgang", "Je scores", "/voortgang", personal=True),
        simple("hulplijnen", "Hulp bij zware dingen", "/hulplijnen"),
        simple("mens", "Praat met een moderator", "/mens", personal=True),
        taal,
        simple("vergeet", "Je gegevens wissen", "/vergeet", personal=True),
        app_commands.ContextMenu(name=_t("Escaleer naar moderators"), callback=escalate),
        app_commands.ContextMenu(name=_t("Open case"), callback=open_case),
        *mod,
    ]


def commands_by_name(adapter: DiscordAdapter) -> dict[str, Any]:
    return {str(getattr(c, "name", "")): c for c in build_commands(adapter)}


def intents(settings: Settings) -> discord.Intents:
    """No privileged intents, unless DISCORD_MESSAGE_CONTENT=1: then plain messages in case threads relay too."""
    chosen = discord.Intents.default()
    chosen.message_content = settings.discord_message_content
    return chosen


class InflubotClient(discord.Client):
    def __init__(self, adapter: DiscordAdapter, settings: Settings):
        super().__init__(intents=intents(settings), allowed_mentions=NONE)
        self.adapter = adapter
        self.settings = settings
        self.tree = app_commands.CommandTree(self)
        self.relay: asyncio.Task[None] | None = None
        for cmd in build_commands(adapter):
            self.tree.add_command(cmd)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(IbButton)
        await self.tree.set_translator(Translator(self.adapter.translations))
        if self.settings.discord_guild_id:
            guild = discord.Object(int(self.settings.discord_guild_id))
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        self.relay = asyncio.create_task(self.adapter.poll_forever())

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def close(self) -> None:
        if self.relay:
            self.relay.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.relay
        with contextlib.suppress(Exception):
            await self.adapter.gate.close()
        await super().close()


def build_client(service: Service, settings: Settings) -> InflubotClient:
    adapter = DiscordAdapter(service, settings)
    client = InflubotClient(adapter, settings)
    adapter.client = client
    return client


async def serve(service: Service, settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (or until `stop` is set, when the runner shares one stop signal)."""
    if not settings.discord_token:
        print("influbot: DISCORD_BOT_TOKEN is not set.", file=sys.stderr)
        return 2
    client = build_client(service, settings)
    loop = asyncio.get_running_loop()
    installed: list = []  # signal numbers we installed, or the stop watcher
    if stop is None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(client.close()))
                installed.append(sig)
    else:

        async def close_on_stop() -> None:
            await stop.wait()
            await client.close()

        installed.append(asyncio.ensure_future(close_on_stop()))
    try:
        async with client:
            await client.start(settings.discord_token)
    except discord.LoginFailure:
        print("influbot: Discord rejected the bot token (DISCORD_BOT_TOKEN); check it in the Developer Portal.", file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired:
        print("influbot: Discord refused the gateway intents; this bot needs no privileged intents.", file=sys.stderr)
        return 2
    finally:
        for item in installed:
            if isinstance(item, asyncio.Future):
                item.cancel()
                continue
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(item)
    return 0
