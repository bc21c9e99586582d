"""Telegram adapter (python-telegram-bot 22): a thin translation between Bot API updates and the core.

Everything the bot *decides* lives in the core (`Service.process`) and the desk; this module only turns
updates into `Inbound`s, reply parts into Bot API calls, and relays the desk outboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import InvalidToken, TelegramError
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
from bot.core.quiz import LETTERS
from bot.core.render import question_text
from bot.core.text import valid_unicode
from bot.core.types import Choices, HandoffNotice, Inbound, QuizQuestion, Referral, Reply, Text
from bot.desk.desk import NotAllowed
from bot.flood import FloodGate
from bot.guard import log_failure
from bot.service import Service

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SURFACE = "mod:telegram"
MAX_MESSAGE = 4096
MAX_CALLBACK = 64
ADMIN_CACHE_SECONDS = 300.0
POLL_SECONDS = 1.0
LANGS = ("nl", "fr", "en")

NOT_MODERATOR = "Only moderators can act on cases here."
FAILED = "Something went wrong; nothing was done (the error is logged)."
RATE_LIMIT_RETRIES = 3  # a 429 from Telegram is waited out and retried, never a dropped reply


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


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


class TelegramAdapter:
    def __init__(self, service: Service, settings: Settings):
        self.service = service
        self.settings = settings
        self.mod_chat_id = int(settings.telegram_mod_chat_id) if settings.telegram_mod_chat_id else None
        self.polls: dict[str, str] = {}  # poll id -> item id (lost on restart; state is the fallback)
        self.verified: set[str] = set()  # "tg:<id>" keys this adapter has checked as moderators
        self._admins: tuple[float, frozenset[int]] = (-1e18, frozenset())
        previous: Callable[[str], bool] = service.desk.is_moderator
        service.desk.is_moderator = lambda who: who in self.verified or previous(who)
        self.username: str | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="influbot-db")
        self.bot_id: int | None = None
        self.gate = FloodGate(settings.flood_messages, settings.flood_seconds, service.urgency, clock=service.clock)

    # -- helpers ------------------------------------------------------------------------------------

    def t(self, key: str, lang: str, **kw: Any) -> str:
        return self.service.engine.t(key, lang, **kw)

    def lang_of(self, key: str, hint: str | None = None) -> str:
        state = self.service.store.get_state(key)
        if not state.greeted and not state.lang_fixed and hint in LANGS:
            return hint  # type: ignore[return-value]
        return state.lang

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run store/desk work on the one database thread (the SQLite connection is shared)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def process(self, inbound: Inbound) -> Reply:
        return await self.call(self.service.process, inbound)

    def _process(self, inbound: Inbound) -> tuple[Reply, str]:
        """On the database thread: the reply and the user's language after it."""
        reply = self.service.process(inbound)
        return reply, self.service.store.get_state(inbound.user).lang

    async def answer(self, bot: Any, chat_id: int, inbound: Inbound, group: bool = False) -> None:
        """Handle one message and send the reply; on an unexpected error the user gets a short apology."""
        try:
            reply, lang = await self.call(self._process, inbound)
            await self.send_parts(bot, chat_id, inbound.user, reply, group=group, lang=lang)
        except Exception as exc:  # noqa: BLE001 - no input may crash the bot
            log_failure(log, "telegram message", exc)
            try:
                await self.send_parts(bot, chat_id, inbound.user, self.service.apology(inbound), group=group, lang="nl")
            except Exception as again:  # noqa: BLE001
                log_failure(log, "telegram apology", again)

    def submit(self, bot: Any, chat_id: int, inbound: Inbound, *, group: bool = False, sent_at: Any = None) -> Any:
        """Through flood control (in order per user; nothing dropped); completes once the message is handled."""

        async def on_wait(first: bool) -> None:
            if first:
                lang = await self.call(self.lang_of, inbound.user, inbound.lang_hint)
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

    async def send_parts(
        self, bot: Any, chat_id: int, key: str, parts: Reply, group: bool = False, lang: str | None = None
    ) -> None:
        lang = lang or self.service.store.get_state(key).lang
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
                lang = await self.call(self.lang_of, key, hint)
                await self.send_text(context.bot, chat.id, self.t("only_text", lang))
            return
        if not private:
            addressed = self._addressed(update, text)
            if addressed is None:
                return
            text = addressed
        edited = update.edited_message is not None
        inbound = Inbound(
            user=key,
            text=text,
            channel=CHANNEL,
            lang_hint=hint,
            message_id=f"{chat.id}:{msg.message_id}"
            + (f"e{int(msg.edit_date.timestamp()) if msg.edit_date else ''}" if edited else ""),
            display_name=user.first_name,
        )
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
        key = f"tg:{user.id}"
        inbound = Inbound(
            user=key,
            kind="choice",
            payload=query.data or "",
            channel=CHANNEL,
            lang_hint=(user.language_code or "")[:2] or None,
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
        if item_id is None:  # after a restart: the user's current question
            run = (await self.call(self.service.store.get_state, key)).quiz
            if run is None or run.index >= len(run.items):
                return
            item_id = run.items[run.index]
        inbound = Inbound(
            user=key,
            kind="choice",
            payload=f"ans:{item_id}:{answer.option_ids[0]}",
            channel=CHANNEL,
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

    def case_for_thread(self, thread_id: int) -> int | None:
        rows = self.service.store.db["mod_threads"].rows_where("surface = ? AND ref = ?", ["telegram", str(thread_id)])
        row = next(iter(rows), None)
        return int(row["case_id"]) if row else None

    def thread_for_case(self, case_id: int) -> int | None:
        rows = self.service.store.db["mod_threads"].rows_where("surface = ? AND case_id = ?", ["telegram", case_id])
        row = next(iter(rows), None)
        return int(row["ref"]) if row else None

    async def on_mod_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user = update.effective_message, update.effective_user
        assert msg is not None and user is not None
        thread_id = msg.message_thread_id if msg.is_topic_message else None
        if thread_id is None or not msg.text:
            return
        case_id = self.case_for_thread(thread_id)
        if case_id is None:
            return
        bot = context.bot
        say = lambda text: self.send_text(bot, msg.chat_id, text, thread_id=thread_id)  # noqa: E731
        if not await self.is_moderator(bot, user.id):
            await say(NOT_MODERATOR)
            return
        who = f"tg:{user.id}"
        self.verified.add(who)
        desk = self.service.desk
        text = valid_unicode(msg.text).strip()
        command, _, arg = text.partition(" ")
        command = command.split("@", 1)[0].lower() if command.startswith("/") else ""
        arg = arg.strip()
        try:
            if command == "/claim":
                won, holder = await self.call(desk.claim, who, case_id)
                await say(f"claimed #{case_id}" if won else f"#{case_id} is already claimed by {holder}")
            elif command == "/note":
                if not arg:
                    await say("usage: /note TEXT")
                    return
                await self.call(desk.note, who, case_id, arg)
                await say(f"note added to #{case_id}")
            elif command == "/close":
                await self.call(desk.close, who, case_id)
                await say(f"closed #{case_id}")
            elif command == "/block":
                hours = float(arg) if arg else 24.0
                case = desk.db["cases"].get(case_id)
                await self.call(desk.block, who, case["user"], hours * 3600)
                await say(f"blocked for {hours:g} h")
            elif command == "/snippet":
                from bot.desk.console import snippets

                case = desk.db["cases"].get(case_id)
                lang = self.service.store.get_state(case["user"]).lang
                texts = await self.call(snippets, desk, lang)
                if arg not in texts:
                    await say("snippets: " + ", ".join(sorted(texts)))
                    return
                await self.call(desk.reply, who, case_id, texts[arg], user.first_name)
                await say(f"snippet {arg} sent to #{case_id}")
            elif command:
                await say("commands: /claim, /note TEXT, /close, /block HOURS, /snippet NAME; any other text is sent to the user")
            else:
                await self.call(desk.reply, who, case_id, text, user.first_name)
        except NotAllowed:
            await say(NOT_MODERATOR)
        except ValueError as exc:
            await say(str(exc))
        except Exception as exc:  # noqa: BLE001 - a moderator's command must not take the bot down either
            log_failure(log, "telegram moderator command", exc)
            with contextlib.suppress(Exception):
                await say(FAILED)

    # -- outboxes -----------------------------------------------------------------------------------

    async def ensure_thread(self, bot: Any, case_id: int) -> int:
        thread_id = self.thread_for_case(case_id)
        if thread_id is not None:
            return thread_id
        case = self.service.store.db["cases"].get(case_id)
        prio = "!" * int(case["priority"] or 0)
        name = " ".join(x for x in (f"#{case_id}", prio, str(case["display_name"] or ""), f"({case['channel']})") if x)
        topic = await bot.create_forum_topic(chat_id=self.mod_chat_id, name=name[:128])
        thread_id = int(topic.message_thread_id)
        await self.call(self.save_thread, case_id, thread_id)
        return thread_id

    def save_thread(self, case_id: int, thread_id: int) -> None:
        row = {"case_id": case_id, "surface": "telegram", "ref": str(thread_id)}
        self.service.store.db["mod_threads"].upsert(row, pk=("case_id", "surface"))

    async def deliver_mod_outbox(self, bot: Any) -> int:
        if self.mod_chat_id is None:
            return 0
        done = 0
        for row in await self.call(self.service.desk.due, SURFACE):
            payload = row["payload"]
            case_id = int(payload["case_id"])
            try:
                thread_id = await self.ensure_thread(bot, case_id)
                event = payload.get("event")
                if event == "opened":
                    case = self.service.store.db["cases"].get(case_id)
                    tags = ", ".join(json.loads(case["tags"] or "[]"))
                    summary = (
                        f"Case #{case_id} · {case['channel']} · {case['display_name']}\ntopic: {case['topic']}\npriority: {case['priority']}"
                        + (f"\ntags: {tags}" if tags else "")
                    )
                    summary += "\n\nReply here to answer the user. /claim · /note TEXT · /close · /block HOURS · /snippet NAME"
                    await self.send_text(bot, self.mod_chat_id, summary, thread_id=thread_id)
                elif event == "user_message":
                    await self.send_text(bot, self.mod_chat_id, payload.get("text") or "", thread_id=thread_id)
                elif event == "closed":
                    await self.send_text(bot, self.mod_chat_id, "closed", thread_id=thread_id)
                await self.call(self.service.desk.sent, row["id"])
                done += 1
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the relay
                log.warning("mod outbox %s failed: %s", row["id"], exc)
                await self.call(self.service.desk.failed, row["id"], f"{type(exc).__name__}: {exc}")
        return done

    async def deliver_user_outbox(self, bot: Any) -> int:
        done = 0
        for row in await self.call(self.service.desk.due, CHANNEL):
            try:
                chat_id = int(str(row["target"]).split(":", 1)[1])
                await self.send_text(bot, chat_id, row["payload"].get("text") or "")
                await self.call(self.service.desk.sent, row["id"])
                done += 1
            except Exception as exc:  # noqa: BLE001 - Forbidden (user blocked the bot) and friends
                log.warning("outbox %s failed: %s", row["id"], exc)
                await self.call(self.service.desk.failed, row["id"], f"{type(exc).__name__}: {exc}")
        return done

    async def relay_forever(self, bot: Any) -> None:
        while True:
            try:
                await self.deliver_user_outbox(bot)
                await self.deliver_mod_outbox(bot)
            except Exception:  # noqa: BLE001
                log.exception("outbox relay")
            await asyncio.sleep(POLL_SECONDS)


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


def build_application(service: Service, settings: Settings, request: BaseRequest | None = None) -> Application:
    builder = Application.builder().token(settings.telegram_token or "")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if settings.telegram_api_base_url:
        builder = builder.base_url(_base_url(settings.telegram_api_base_url, "/bot"))
        builder = builder.base_file_url(_base_url(settings.telegram_api_base_url, "/file/bot"))
    try:
        from telegram.ext import AIORateLimiter

        builder = builder.rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
    except (ImportError, RuntimeError):
        pass
    # Updates are handled concurrently: flood control keeps each user's own updates in order, and a user whose
    # messages wait does not hold up anyone else.
    app = builder.concurrent_updates(True).build()
    adapter = TelegramAdapter(service, settings)
    app.bot_data["influbot"] = adapter

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            log_failure(log, "telegram update", context.error)

    app.add_error_handler(on_error)

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


async def _register_commands(app: Application) -> None:
    strings = adapter_of(app).service.engine.t
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
    relay: asyncio.Task[None] | None = None
    try:
        adapter.username, adapter.bot_id = app.bot.username, app.bot.id
        await _register_commands(app)
        await app.start()
        assert app.updater is not None
        updates = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.POLL_ANSWER]
        if settings.telegram_webhook_url:
            await app.updater.start_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=urlparse(settings.telegram_webhook_url).path.lstrip("/"),
                webhook_url=settings.telegram_webhook_url,
                secret_token=webhook_secret(settings),
                allowed_updates=updates,
            )
        else:
            await app.updater.start_polling(allowed_updates=updates)
        relay = asyncio.create_task(adapter.relay_forever(app.bot))
        log.info("telegram: running as @%s", adapter.username)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
    finally:
        if relay is not None:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await relay
        with contextlib.suppress(Exception):
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        with contextlib.suppress(Exception):
            await adapter.gate.close()
        adapter.executor.shutdown(wait=False)
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return 0
