"""Runs the core for one inbound message: dedup, state, desk and safety log; never raises (but see `process`).

One message is one transaction under the user's lock: the dedup mark, the new state, the case messages and
any queued reply commit together or not at all, and a desk action on the same user waits for it.
Flood control is not here: it lives in `bot/flood.py`, used by the channel adapters, and never drops a message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.content import Content, content_hash, data_root, load_content, load_safety_training
from bot.core import commands
from bot.core.nlu import load_models
from bot.core.pipeline import Engine
from bot.core.safety_model import load_crisis_model
from bot.core.text import clean_input, valid_unicode
from bot.core.types import Action, HandoffNotice, Inbound, Referral, Reply, State, Text, ToDesk
from bot.desk import Desk
from bot.desk.moderators import Moderators
from bot.flood import Urgency
from bot.guard import log_failure
from bot.storage import Storage, open_storage, unavailable

log = logging.getLogger(__name__)


def build_engine(
    content: Content | None = None,
    seed: int | None = None,
    clock: Callable[[], float] = time.time,
    settings: Settings | None = None,
) -> Engine:
    content = content or load_content()
    settings = settings or Settings.from_env()
    classifier, detector = load_models(content.training, content_hash(folders=("intents",)))
    calm = [text for rows in content.training.values() for text, _ in rows]
    root = data_root()  # the labelled crisis messages are read only when the model must be trained
    crisis_model = load_crisis_model(lambda: load_safety_training(root), calm, content_hash(folders=("intents", "referrals")))
    if settings.nlu == "rasa":  # optional Rasa server; the built-in model stays as fallback
        from bot.nlu_rasa import RasaClassifier

        classifier = RasaClassifier(settings.rasa_url, fallback=classifier)
    return Engine(content, classifier, detector, seed=seed, clock=clock, crisis_model=crisis_model)


class Service:
    def __init__(self, engine: Engine, store: Storage, desk: Desk, settings: Settings, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.store = store
        self.desk = desk
        self.settings = settings
        self.clock = clock

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        db_path: str | Path | None = None,
        seed: int | None = None,
        surfaces: tuple[str, ...] = (),
        moderators: Callable[[str], bool] | None = None,
        purge: bool = True,
        store: Storage | None = None,
    ) -> Service:
        settings = settings or Settings.from_env()
        engine = build_engine(seed=seed, settings=settings)
        store = store or open_storage(db_path if db_path is not None else settings.db_path)
        desk = Desk(
            store,
            engine.t,
            is_moderator=moderators or Moderators(),
            surfaces=surfaces,
            show_names=settings.show_moderator_names,
            overdue_after=settings.overdue_minutes * 60,
            snippets=lambda lang: snippets(engine, lang),
            audit=store.audit.record,
        )
        if purge:
            desk.purge(settings.retention_days)
        return cls(engine, store, desk, settings)

    def process(
        self, inbound: Inbound, queue_reply: Callable[[Reply, str], Any] | None = None, redeliverable: bool = False
    ) -> Reply:
        """The reply to one message. An unexpected error is logged (without the text) and answered with an apology,
        and a crisis message still gets its referral.

        `queue_reply(reply, lang)`, if given, runs inside the message's transaction (to put the reply in the outbox,
        so it goes out even if this process dies right after the commit). With `redeliverable` (the platform sends
        the update again until it is confirmed, as Telegram does) a database outage raises instead, so the update
        is not confirmed and comes back."""
        inbound = valid_inbound(inbound)
        try:
            with self.store.locked(inbound.user):
                reply, lang = self._process(inbound)
                if queue_reply is not None and reply:
                    queue_reply(reply, lang)
            return reply
        except Exception as exc:  # noqa: BLE001 - no input may crash the bot
            if redeliverable and unavailable(exc):
                raise
            log_failure(log, f"{inbound.channel} message", exc)
            reply = self.apology(inbound)
        if queue_reply is not None:  # the apology goes out once, even if the update comes again
            try:
                with self.store.locked(inbound.user):
                    if not (inbound.message_id and self.store.dedup.seen(inbound.user, inbound.message_id)):
                        queue_reply(reply, self.store.users.get(inbound.user).lang)
            except Exception as exc:  # noqa: BLE001
                if redeliverable:
                    raise
                log_failure(log, "queueing the apology", exc)
        return reply

    def apology(self, inbound: Inbound) -> Reply:
        """What the user gets when their message could not be handled: the referral if it is a crisis, and a short
        apology. Built from content only, so it works when the store or the engine's state handling fails."""
        reply = Reply()
        lang = inbound.lang_hint if inbound.lang_hint in ("nl", "fr", "en") else "nl"
        with contextlib.suppress(Exception):  # the store may be what failed; the hint will do
            lang = self.store.get_state(inbound.user).lang
        try:
            text = clean_input(inbound.text)
            hit = self.engine.safety.detect(text) if text and inbound.kind == "text" else None
            if hit:
                referral = self.engine.referrals.render(hit.topic, lang, hit.severity, about=hit.about)
                reply.append(referral)
                self.store.record_safety(inbound.user, referral.topic, referral.severity, inbound.channel)
        except Exception as exc:  # noqa: BLE001 - the referral is in the reply before the store is tried
            log_failure(log, "apology referral", exc)
        reply.append(Text(self.engine.t("error_apology", lang)))
        return reply

    def urgency(self, inbound: Inbound) -> Urgency:
        """For flood control: "crisis" (never waits), "human" (a request for a person, never held back), or None."""
        text = clean_input(inbound.text)
        if inbound.kind == "text" and text and self.engine.safety.detect(text):
            return "crisis"
        if inbound.payload.startswith("human:") or (commands.parse(text) or ("",))[0] == "human":
            return "human"
        if inbound.kind == "text" and text and not text.startswith("/"):
            local = getattr(self.engine.classifier, "fallback", self.engine.classifier)  # never a Rasa call on the loop
            prediction = local.predict(text[:4000])
            if prediction.confident and prediction.intent == "human":
                return "human"
        return None

    def _process(self, inbound: Inbound) -> tuple[Reply, str]:
        if inbound.message_id:  # flood control may have merged messages: "u1+u2"; each id is recorded
            new = [m for m in inbound.message_id.split("+") if not self.store.dedup.seen(inbound.user, m)]
            if not new:
                return Reply(), ""
        state = self.store.users.get(inbound.user)
        parts, state = self.engine.handle(inbound, state)
        reply = Reply()
        reply.intent, reply.confidence = parts.intent, parts.confidence
        if parts.unplaced:
            self.store.figures.bump("faq_unplaced", time.strftime("%Y-%m-%d", time.gmtime(self.clock())))
        blocked = forgotten = False
        for part in parts:
            if isinstance(part, Referral):
                self.store.safety.record(inbound.user, part.topic, part.severity, inbound.channel)
            if isinstance(part, ToDesk):
                blocked = part.action != "close" and self.desk.blocked(inbound.user)
                notice = self._to_desk(inbound, part, state)
                if notice:
                    reply.append(notice)
                continue
            if blocked and isinstance(part, HandoffNotice):
                continue
            if isinstance(part, Action) and part.name == "forget":
                self.store.forget(inbound.user)
                forgotten = True
                continue
            reply.append(part)
        if not forgotten:  # after /vergeet no row for the user is written back
            self.store.users.put(inbound.user, state)
        return reply, state.lang

    def _to_desk(self, inbound: Inbound, part: ToDesk, state: State) -> Text | None:
        user = inbound.user
        if part.action == "close":
            self.desk.close_by_user(user)
            return None
        if self.desk.blocked(user):
            state.case_id = None
            return Text(self.engine.t("blocked", state.lang)) if self.desk.block_notice_due(user) else None
        if part.action == "open":
            name = inbound.display_name or user
            new = part.context and self.desk.open_case_for(user) is None
            state.case_id = self.desk.open_case(
                user, inbound.channel, part.topic, "" if new else part.text, part.priority, part.tags, inbound.display_name
            )
            if new:  # the turns before the case opened, then what the user asked for
                for text in part.context:
                    self.desk.add_message(state.case_id, "before", name, text)
                if part.text:
                    self.desk.add_message(state.case_id, "user", name, part.text)
        elif part.action == "message":
            case = self.desk.open_case_for(user)
            if case is None:  # closed meanwhile: open a fresh case so nothing is lost
                state.case_id = self.desk.open_case(
                    user, inbound.channel, part.topic or "follow-up", part.text, display_name=inbound.display_name
                )
            else:
                self.desk.add_message(case["id"], "user", inbound.display_name or user, part.text)
        return None


def valid_inbound(inbound: Inbound) -> Inbound:
    """The message with every field storable and sendable (no lone surrogates; no control characters in names)."""
    return dataclasses.replace(
        inbound,
        user=valid_unicode(inbound.user),
        text=valid_unicode(inbound.text),
        payload=valid_unicode(inbound.payload),
        message_id=valid_unicode(inbound.message_id) if inbound.message_id else None,
        display_name=clean_input(inbound.display_name)[:100] or None if inbound.display_name else None,
    )


def snippets(engine: Engine, lang: str) -> dict[str, str]:
    """Saved replies for the desk: the standard referral texts (short form), one per topic."""
    return {topic: engine.referrals.render(topic, lang, short=True).text for topic in engine.content.templates}
