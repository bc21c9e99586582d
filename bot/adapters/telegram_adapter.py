"""Telegram adapter (python-telegram-bot 22): a thin translation between Bot API updates and the core.

Everything the bot *decides* lives in the core (`Service.process`) and the desk; this module only turns
updates into `Inbound`s, reply parts into Bot API calls, and gives the relay its two `Sender`s.

At-least-once in, exactly-once effect: an update is deduplicated on its `update_id` in the same transaction
as its effects, and its reply is put in the outbox in that transaction too (sent right after the commit, by
this handler or, after a crash, by any relay). Polling confirms an update to the Bot API (the next offset)
only after it was handled; the webhook (`telegram_webhook.py`) answers 200 only after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import secrets
import signal
import sys
import time
from collections import defaultdict
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import logs
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
from bot.desk.outbox import Relay, decode_parts, encode_parts
from bot.flood import FloodGate
from bot.guard import log_failure
from bot.offload import offload
from bot.service import Service
from bot.storage import unavailable
from bot.storage.base import Row

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SURFACE = "mod:telegram"
MAX_MESSAGE = 4096
MAX_CALLBACK = 64
ADMIN_CACHE_SECONDS = 300.0
POLL_SECONDS = 1.0
POLL_TIMEOUT = 10  # long polling: seconds the Bot API may hold getUpdates open
LANGS = ("nl", "fr", "en")
UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.POLL_ANSWER]
MOD_COMMANDS = {f"/{name}": name for name in desk_commands.USAGE}

NOT_MODERATOR = "Only moderators can act on cases here."
FAILED = "Something went wrong; nothing was done (the error is logged)."
RATE_LIMIT_RETRIES = 3  # a 429 from Telegram is waited out and retried, never a dropped reply


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def permanent(exc: BaseException) -> bool:
    """Errors a retry cannot fix: the user blocked the bot, the chat or topic is gone, the row is malformed."""
    if isinstance(exc, Forbidden):
        return True
    if isinstance(exc, BadRequest):
        return any(s in str(exc).lower() for s in ("not found", "chat_id is empty", "have no rights", "deactivated"))
    return isinstance(exc, (KeyError, ValueError, TypeError))


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Escape `text` for HTML and split it into pieces of at most `limit` UTF-16 units, at paragraph boundaries."""
    pieces: list[str] = []
    current = ""
    for para in text.split("\n\n"):
        escaped = html.escape(para)
        if units(escaped) > limit:  # one huge paragraph: cut it without breaking an entity
            if current:
                pieces.append(current)
                current = ""
            chunk, size = "", 0
            for ch in para:
                e = html.escape(ch)
                if size + units(e) > limit:
                    pieces.append(chunk)
                    chunk, size = "", 0
                chunk += e
                size += units(e)
            current = chunk
            continue
        candidate = f"{current}\n\n{escaped}" if current else escaped
        if units(candidate) > limit:
            pieces.append(current)
            current = escaped
        else:
            current = candidate
    if current or not pieces:
        pieces.append(current)
    return [p for p in pieces if p.strip()] or []


def keyboard(pairs: list[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    rows = []
    for label, payload in pairs:
        if len(payload.encode()) > MAX_CALLBACK:
            log.warning("payload too long for Telegram, button left out: %r", payload)
            continue
        rows.append([InlineKeyboardButton(label[:64] or "·", callback_data=payload)])
    return InlineKeyboardMarkup(rows) if rows else None


class UserSender:
    """Outbox rows for Telegram users: queued replies (parts) and moderator replies/notices (text)."""

    channel = CHANNEL

    def __init__(self, adapter: TelegramAdapter, bot: Any):
        self.adapter, self.bot = adapter, bot

    async def send(self, row: Row) -> None:
        payload = row["payload"]
        if payload.get("kind") == "reply":
            parts = decode_parts(payload["parts"])
            await self.adapter.send_parts(
                self.bot, int(payload["chat_id"]), parts, payload.get("lang", "nl"), payload.get("group", False)
            )
        else:
            await self.adapter.send_text(self.bot, int(str(row["target"]).split(":", 1)[1]), payload.get("text") or "")

    def permanent(self, exc: BaseException) -> bool:
        return permanent(exc)


class ModSender:
    """Case events -> one forum topic per case in the moderators' group."""

    channel = SURFACE

    def __init__(self, adapter: TelegramAdapter, bot: Any):
        self.adapter, self.bot = adapter, bot

    async def send(self, row: Row) -> None:
        adapter, bot = self.adapter, self.bot
        payload = row["payload"]
        case_id = int(payload["case_id"])
        case = await offload(adapter.service.store.cases.get, case_id)
        if case is None or adapter.mod_chat_id is None:
            raise ValueError(f"case {case_id} is gone or no moderators' group")
        thread_id = await adapter.ensure_thread(bot, case)
        event = payload.get("event")
        if event == "opened":
            tags = ", ".join(case["tags"] or [])
            summary = (
                f"Case #{case_id} · {case['channel']} · {case['display_name']}\ntopic: {case['topic']}\npriority: {case['priority']}"
                + (f"\ntags: {tags}" if tags else "")
            )
            summary += "\n\nReply here to answer the user. /claim · /note TEXT · /close · /block HOURS · /snippet NAME"
            await adapter.send_text(bot, adapter.mod_chat_id, summary, thread_id=thread_id)
        elif event == "user_message":
            await adapter.send_text(bot, adapter.mod_chat_id, payload.get("text") or "", thread_id=thread_id)
        elif event == "closed":
            await adapter.send_text(bot, adapter.mod_chat_id, "closed", thread_id=thread_id)

    def permanent(self, exc: BaseException) -> bool:
        return permanent(exc)


def update_ids(inbound: Inbound) -> list[int]:
    """The Telegram update ids behind an inbound (flood control may have merged several: "u1+u2")."""
    return [int(part[1:]) for part in (inbound.message_id or "").split("+") if part[:1] == "u" and part[1:].isdigit()]


def user_of(update: Update) -> int | None:
    """Whose update this is (updates of one user are handled one after the other)."""
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class TelegramAdapter:
    def __init__(self, service: Service, settings: Settings, moderators: Moderators | None = None):
        self.service = service
        self.settings = settings
        self.mod_chat_id = int(settings.telegram_mod_chat_id) if settings.telegram_mod_chat_id else None
        self.polls: dict[str, str] = {}  # poll id -> item id (per process; the user's current question is the fallback)
        self.moderators = moderators if moderators is not None else _moderators_of(service)
        self._admins: tuple[float, frozenset[int]] = (-1e18, frozenset())
        self.username: str | None = None
        self.bot_id: int | None = None
        self.relay: Relay | None = None
        self.failed: set[int] = set()  # update ids whose handling raised (not to be confirmed)
        self.gate = FloodGate(settings.flood_messages, settings.flood_seconds, service.urgency, clock=service.clock)

    # -- helpers ------------------------------------------------------------------------------------

    def t(self, key: str, lang: str, **kw: Any) -> str:
        return self.service.engine.t(key, lang, **kw)

    async def lang_of(self, key: str, hint: str | None = None) -> str:
        state = await offload(self.service.store.users.get, key)
        if not state.greeted and not state.lang_fixed and hint in LANGS:
            return hint  # type: ignore[return-value]
        return state.lang

    def relay_for(self, bot: Any) -> Relay:
        if self.relay is None:
            senders = [UserSender(self, bot), ModSender(self, bot)]
            self.relay = Relay(self.service.store.outbox, senders, lease_seconds=self.settings.outbox_lease_seconds)
        return self.relay

    async def answer(self, bot: Any, chat_id: int, inbound: Inbound, group: bool = False) -> None:
        """Handle one message: the reply is queued in the outbox in the same transaction and sent right after.

        The service answers an unexpected error with an apology (queued the same way). If the database is away,
        the update ids are marked as failed, so they are not confirmed to Telegram and come again."""
        store = self.service.store
        leased: list[Row] = []

        def queue(reply: Reply, lang: str) -> None:
            payload = {"kind": "reply", "chat_id": chat_id, "group": group, "lang": lang, "parts": encode_parts(reply)}
            row = store.outbox.enqueue_leased(CHANNEL, inbound.user, payload, self.settings.outbox_lease_seconds)
            leased.extend([row] if row else [])

        try:
            await offload(self.service.process, inbound, queue, redeliverable=True)
            relay = self.relay_for(bot)
            if leased:  # nothing was queued before it: send it now, without another round trip for a lease
                await relay.deliver(leased[0])
            else:
                await relay.flush(CHANNEL, inbound.user)
        except Exception as exc:  # noqa: BLE001 - the update stays unconfirmed; nothing else to do here
            log_failure(log, "telegram message", exc)
            self.failed.update(update_ids(inbound))

    def submit(self, bot: Any, chat_id: int, inbound: Inbound, *, group: bool = False, sent_at: Any = None) -> Any:
        """Through flood control (in order per user; nothing dropped); completes once the message is handled."""

        async def on_wait(first: bool) -> None:
            if first:
                lang = await self.lang_of(inbound.user, inbound.lang_hint)
                await self.send_text(bot, chat_id, self.t("slow_down", lang))

        return self.gate.submit(
            inbound,
            lambda ib: self.answer(bot, chat_id, ib, group=group),
            sent_at=sent_at.timestamp() if sent_at is not None else None,
            conversation=chat_id,
            on_wait=on_wait,
        )

    async def send_text(
        self, bot: Any, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, thread_id: int | None = None
    ) -> None:
        pieces = split_html(text) or ["·"]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            await bot.send_message(
                chat_id=chat_id,
                text=piece,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                message_thread_id=thread_id,
            )

    async def send_parts(self, bot: Any, chat_id: int, parts: Reply, lang: str, group: bool = False) -> None:
        if group:
            referrals = [p for p in parts if isinstance(p, Referral)]
            if referrals:
                for ref in referrals:
                    await self.send_text(bot, chat_id, ref.text)
                await self.send_text(bot, chat_id, self.t("group_private", lang))
                return
            parts = Reply(p for p in parts if not isinstance(p, HandoffNotice))
        for part in parts:
            if isinstance(part, (Text, Referral, HandoffNotice)):
                await self.send_text(bot, chat_id, part.text)
            elif isinstance(part, Choices):
                await self.send_text(bot, chat_id, part.prompt, keyboard([(c.label, c.payload) for c in part.options]))
            elif isinstance(part, QuizQuestion):
                await self.send_question(bot, chat_id, part, lang)

    async def send_question(self, bot: Any, chat_id: int, q: QuizQuestion, lang: str) -> None:
        if q.mode == "exam" or not 2 <= len(q.options) <= 10:
            labels = [LETTERS[i].upper() if i < len(LETTERS) else str(i + 1) for i in range(len(q.payloads))]
            await self.send_text(
                bot, chat_id, question_text(q, self.service.engine.t, lang), keyboard(list(zip(labels, q.payloads, strict=False)))
            )
            return
        head = self.t("quiz_question", lang, number=q.number, total=q.total)
        message = await bot.send_poll(
            chat_id=chat_id,
            question=f"{head} · {q.question}"[:300],
            options=[o[:100] for o in q.options],
            type="quiz",
            is_anonymous=False,
            correct_option_ids=[q.correct],
            explanation=q.explanation[:200] or None,
        )
        if message is not None and message.poll is not None:
            self.polls[message.poll.id] = q.item_id

    # -- users --------------------------------------------------------------------------------------

    def _addressed(self, update: Update, text: str) -> str | None:
        """In groups: the text if it is a command for us, mentions us or replies to us; else None."""
        msg = update.effective_message
        name = (self.username or "").lower()
        if text.startswith("/"):
            head = text.split(" ", 1)[0]
            if "@" in head and head.split("@", 1)[1].lower() != name:
                return None
            return text
        # Searched in the text itself: lowercasing first can change lengths ("İ" becomes two characters).
        found = re.search(rf"(?<![\w@])@{re.escape(name)}(?!\w)", text, re.IGNORECASE | re.ASCII) if name else None
        if found:
            return (text[: found.start()] + text[found.end() :]).strip()
        replied = msg.reply_to_message if msg else None
        if replied and replied.from_user and self.bot_id is not None and replied.from_user.id == self.bot_id:
            return text
        return None

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if msg is None or chat is None or user is None or user.is_bot:
            return
        if self.mod_chat_id is not None and chat.id == self.mod_chat_id:
            await self.on_mod_message(update, context)
            return
        key = f"tg:{user.id}"
        hint = (user.language_code or "")[:2] or None
        private = chat.type == ChatType.PRIVATE
        text = msg.text
        post = msg.caption if text is None else (text if msg.forward_origin is not None else None)
        if private and post:  # a photo's caption or a forwarded post: the caption check
            text = f"/{commands.TABLE['check']['en']} {post}"
        if text is None:
            if private:
                await self.send_text(context.bot, chat.id, self.t("only_text", await self.lang_of(key, hint)))
            return
        if not private:
            addressed = self._addressed(update, text)
            if addressed is None:
                return
            text = addressed
        inbound = Inbound(
            user=key, text=text, channel=CHANNEL, lang_hint=hint, message_id=f"u{update.update_id}", display_name=user.first_name
        )
        edited = update.edited_message is not None
        await self.submit(context.bot, chat.id, inbound, group=not private, sent_at=msg.edit_date if edited else msg.date)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        chat = query.message.chat if query.message is not None else None
        chat_id = chat.id if chat is not None else user.id
        if self.mod_chat_id is not None and chat_id == self.mod_chat_id:
            with contextlib.suppress(TelegramError):
                await query.answer()
            return
        inbound = Inbound(
            user=f"tg:{user.id}",
            kind="choice",
            payload=query.data or "",
            channel=CHANNEL,
            lang_hint=(user.language_code or "")[:2] or None,
            message_id=f"u{update.update_id}",
            display_name=user.first_name,
        )
        handled = self.submit(context.bot, chat_id, inbound, group=chat is not None and chat.type != ChatType.PRIVATE)
        with contextlib.suppress(TelegramError):  # queued first: the answer's await must not let a later update pass
            await query.answer()
        await handled

    async def on_poll_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        if answer is None or answer.user is None or not answer.option_ids:
            return
        key = f"tg:{answer.user.id}"
        item_id = self.polls.get(answer.poll_id)
        if item_id is None:  # after a restart, or asked by another worker: the user's current question
            run = (await offload(self.service.store.users.get, key)).quiz
            if run is None or run.index >= len(run.items):
                return
            item_id = run.items[run.index]
        inbound = Inbound(
            user=key,
            kind="choice",
            payload=f"ans:{item_id}:{answer.option_ids[0]}",
            channel=CHANNEL,
            message_id=f"u{update.update_id}",
            display_name=answer.user.first_name,
        )
        await self.submit(context.bot, answer.user.id, inbound)

    # -- moderators ---------------------------------------------------------------------------------

    async def is_moderator(self, bot: Any, user_id: int) -> bool:
        if str(user_id) in self.settings.telegram_moderator_ids:
            return True
        if self.mod_chat_id is None:
            return False
        stamp, admins = self._admins
        if time.monotonic() - stamp > ADMIN_CACHE_SECONDS:
            try:
                members = await bot.get_chat_administrators(self.mod_chat_id)
                admins = frozenset(m.user.id for m in members if not m.user.is_bot)
                self._admins = (time.monotonic(), admins)
            except Exception as exc:  # noqa: BLE001 - network trouble: keep the old list
                log.warning("could not list moderators: %s", exc)
        return user_id in admins

    def run_mod_command(self, who: str, update_id: int, case_id: int, action: str, arg: str, name: str | None) -> str | None:
        """A desk command from a topic, at most once per update (a redelivered update does nothing)."""
        store = self.service.store
        with store.atomic():
            if store.dedup.seen(who, f"u{update_id}"):
                return None
            return desk_commands.run(self.service.desk, who, action, case_id, arg, name)

    async def on_mod_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user = update.effective_message, update.effective_user
        assert msg is not None and user is not None
        thread_id = msg.message_thread_id if msg.is_topic_message else None
        if thread_id is None or not msg.text:
            return
        case_id = await offload(self.service.store.threads.case, "telegram", str(thread_id))
        if case_id is None:
            return
        bot = context.bot
        say = lambda text: self.send_text(bot, msg.chat_id, text, thread_id=thread_id)  # noqa: E731
        who = f"tg:{user.id}"
        if not await self.is_moderator(bot, user.id):
            self.moderators.revoke(who)
            await say(NOT_MODERATOR)
            return
        self.moderators.grant(who)
        text = valid_unicode(msg.text).strip()
        head, _, arg = text.partition(" ")
        if head.startswith("/"):
            action = MOD_COMMANDS.get(head.split("@", 1)[0].lower())
            if action is None:
                await say(desk_commands.HELP)
                return
        else:
            action, arg = "reply", text
        try:
            answer = await offload(self.run_mod_command, who, update.update_id, case_id, action, arg, user.first_name)
        except NotAllowed:
            answer = NOT_MODERATOR
        except (NotFound, ValueError) as exc:  # Usage is a ValueError
            answer = str(exc) or desk_commands.HELP
        except Exception as exc:  # noqa: BLE001 - a moderator's command must not take the bot down either
            if unavailable(exc):
                raise  # not confirmed: the update comes again
            log_failure(log, "telegram moderator command", exc)
            answer = FAILED
        if answer and action != "reply":
            with contextlib.suppress(TelegramError):
                await say(answer)

    # -- outboxes -----------------------------------------------------------------------------------

    async def ensure_thread(self, bot: Any, case: Row) -> int:
        """The case's forum topic, created on first use (the outbox lease makes one process do it)."""
        threads = self.service.store.threads
        ref = await offload(threads.ref, case["id"], "telegram")
        if ref is not None:
            return int(ref)
        prio = "!" * int(case["priority"] or 0)
        name = " ".join(x for x in (f"#{case['id']}", prio, str(case["display_name"] or ""), f"({case['channel']})") if x)
        topic = await bot.create_forum_topic(chat_id=self.mod_chat_id, name=name[:128])
        thread_id = int(topic.message_thread_id)
        await offload(threads.save, case["id"], "telegram", str(thread_id))
        return thread_id

    async def deliver_mod_outbox(self, bot: Any) -> int:
        return await self.relay_for(bot).flush(SURFACE) if self.mod_chat_id is not None else 0

    async def deliver_user_outbox(self, bot: Any) -> int:
        return await self.relay_for(bot).flush(CHANNEL)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An update whose handling raised is not confirmed to Telegram (it comes again; dedup makes that safe)."""
        if isinstance(update, Update):
            self.failed.add(update.update_id)
        if context.error is not None:
            log_failure(log, "telegram update", context.error)

    async def handle_batch(self, app: Application, updates: list[Update]) -> int | None:
        """Handle a batch: users in parallel, each user's updates in order. Returns the offset to confirm."""
        if not updates:
            return None
        by_user: dict[Any, list[Update]] = defaultdict(list)
        for update in updates:
            by_user[user_of(update) or update.update_id].append(update)

        async def one_user(batch: list[Update]) -> None:
            for update in batch:
                await app.process_update(update)

        await asyncio.gather(*(one_user(b) for b in by_user.values()))
        ids = [u.update_id for u in updates]
        failed = sorted(self.failed.intersection(ids))
        self.failed.difference_update(ids)
        return failed[0] if failed else max(ids) + 1

    async def poll(self, app: Application, stop: asyncio.Event) -> None:
        """Long polling that confirms an update (the next getUpdates offset) only after it was handled."""
        offset: int | None = None
        pause = 1.0
        while not stop.is_set():
            try:
                updates = await app.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=UPDATES, read_timeout=POLL_TIMEOUT + 5
                )
            except InvalidToken:
                raise
            except TelegramError as exc:
                log.warning("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, pause)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            confirmed = await self.handle_batch(app, list(updates))
            if confirmed is not None:
                if offset is not None and confirmed == offset:  # the first update failed again: wait a little
                    await asyncio.sleep(1.0)
                offset = confirmed


def _moderators_of(service: Service) -> Moderators:
    found = getattr(getattr(service, "desk", None), "is_moderator", None)
    return found if isinstance(found, Moderators) else Moderators()


def webhook_secret(settings: Settings) -> str:
    """The secret every webhook request must carry (Telegram sends it back in a header; others get 403)."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    secret = secrets.token_urlsafe(32)
    logs.hide(secret)
    log.warning(
        "TELEGRAM_WEBHOOK_SECRET is not set: generated a random secret for this run and registered it with setWebhook; "
        "requests without it are refused (403). Set it to keep one secret across restarts and replicas."
    )
    return secret


def _base_url(url: str, suffix: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(suffix) else url + suffix


def bare_application(settings: Settings, request: BaseRequest | None = None) -> Application:
    """A PTB Application with the bot's token, API address and rate limiter, and no handlers (no update fetcher)."""
    builder = Application.builder().token(settings.telegram_token or "")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if settings.telegram_api_base_url:
        builder = builder.base_url(_base_url(settings.telegram_api_base_url, "/bot"))
        builder = builder.base_file_url(_base_url(settings.telegram_api_base_url, "/file/bot"))
    if settings.telegram_rate_limit:
        try:
            from telegram.ext import AIORateLimiter

            builder = builder.rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        except (ImportError, RuntimeError):
            pass
    # Updates are handled concurrently: flood control keeps each user's own updates in order, and a user whose
    # messages wait does not hold up anyone else.
    return builder.updater(None).concurrent_updates(True).build()


def build_application(service: Service, settings: Settings, request: BaseRequest | None = None) -> Application:
    app = bare_application(settings, request)
    adapter = TelegramAdapter(service, settings)
    app.bot_data["influbot"] = adapter

    app.add_error_handler(adapter.on_error)

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if adapter.username is None:
            adapter.username, adapter.bot_id = context.bot.username, context.bot.id
        await adapter.on_message(update, context)

    app.add_handler(MessageHandler(filters.UpdateType.MESSAGES & ~filters.StatusUpdate.ALL, on_message))
    app.add_handler(CallbackQueryHandler(adapter.on_callback))
    app.add_handler(PollAnswerHandler(adapter.on_poll_answer))
    return app


def adapter_of(app: Application) -> TelegramAdapter:
    return app.bot_data["influbot"]


async def _register_commands(app: Application, strings: Strings | None = None) -> None:
    strings = strings or adapter_of(app).service.engine.t
    for lang in LANGS:
        cmds = [BotCommand(name, desc) for name, desc in commands.menu(strings, lang)]
        with contextlib.suppress(TelegramError):
            await app.bot.set_my_commands(cmds, language_code=lang)
            if lang == "nl":
                await app.bot.set_my_commands(cmds)


async def serve(
    service: Service, settings: Settings, stop: asyncio.Event | None = None, *, request: BaseRequest | None = None
) -> int:
    """Run until SIGINT/SIGTERM (or until `stop` is set, when the runner shares one stop signal)."""
    if not settings.telegram_token:
        print("influbot: TELEGRAM_BOT_TOKEN is not set.", file=sys.stderr)
        return 2
    app = build_application(service, settings, request=request)
    adapter = adapter_of(app)
    own_signals = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM) if own_signals else ():
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        await app.initialize()
    except InvalidToken:
        print("influbot: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN); check it with @BotFather.", file=sys.stderr)
        return 2
    tasks: list[asyncio.Task[None]] = []
    try:
        adapter.username, adapter.bot_id = app.bot.username, app.bot.id
        await _register_commands(app)
        await app.start()
        tasks.append(asyncio.create_task(adapter.relay_for(app.bot).run_forever(stop)))
        if settings.telegram_webhook_url:
            from bot.adapters.telegram_webhook import serve_inline

            tasks.append(asyncio.create_task(serve_inline(app, service, settings, stop)))
        else:
            with contextlib.suppress(TelegramError):
                await app.bot.delete_webhook()
            tasks.append(asyncio.create_task(adapter.poll(app, stop)))
        log.info("telegram: running as @%s", adapter.username)
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in done:
            if task is not waiter and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 15)
        with contextlib.suppress(Exception):
            if app.running:
                await app.stop()
            await app.shutdown()
        with contextlib.suppress(Exception):
            await adapter.gate.close()
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return 0
