"""Runs the core for one inbound message: dedup, state, desk and safety log; never raises.

Flood control is not here: it lives in `bot/flood.py`, used by the channel adapters, and never drops a message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.content import Content, content_hash, load_content
from bot.core import commands
from bot.core.nlu import load_models
from bot.core.pipeline import Engine
from bot.core.safety_model import load_crisis_model
from bot.core.text import clean_input, valid_unicode
from bot.core.types import Action, HandoffNotice, Inbound, Referral, Reply, State, Text, ToDesk
from bot.desk import Desk
from bot.flood import Urgency
from bot.guard import log_failure
from bot.store import SqliteStore, Store

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
    crisis_model = load_crisis_model(content.safety_training, calm, content_hash(folders=("intents", "referrals")))
    if settings.nlu == "rasa":  # optional Rasa server; the built-in model stays as fallback
        from bot.nlu_rasa import RasaClassifier

        classifier = RasaClassifier(settings.rasa_url, fallback=classifier)
    return Engine(content, classifier, detector, seed=seed, clock=clock, crisis_model=crisis_model)


class Service:
    def __init__(self, engine: Engine, store: Store, desk: Desk, settings: Settings, clock: Callable[[], float] = time.time):
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
    ) -> Service:
        settings = settings or Settings.from_env()
        engine = build_engine(seed=seed, settings=settings)
        store = SqliteStore(db_path if db_path is not None else settings.db_path)
        desk = Desk(
            store,
            engine.t,
            surfaces=surfaces,
            show_names=settings.show_moderator_names,
            overdue_after=settings.overdue_minutes * 60,
        )
        desk.purge(settings.retention_days)
        return cls(engine, store, desk, settings)

    def process(self, inbound: Inbound) -> Reply:
        """The reply to one message. An unexpected error is logged (without the text) and answered with an apology,
        and a crisis message still gets its referral."""
        inbound = valid_inbound(inbound)
        try:
            return self._process(inbound)
        except Exception as exc:  # noqa: BLE001 - no input may crash the bot
            log_failure(log, f"{inbound.channel} message", exc)
            return self.apology(inbound)

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

    def _process(self, inbound: Inbound) -> Reply:
        if inbound.message_id and self.store.seen(inbound.user, inbound.message_id):
            return Reply()
        state = self.store.get_state(inbound.user)
        parts, state = self.engine.handle(inbound, state)
        reply = Reply()
        reply.intent, reply.confidence = parts.intent, parts.confidence
        blocked = False
        for part in parts:
            if isinstance(part, Referral):
                self.store.record_safety(inbound.user, part.topic, part.severity, inbound.channel)
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
                state = State(lang=state.lang, greeted=True)
                continue
            reply.append(part)
        self.store.put_state(inbound.user, state)
        return reply

    def _to_desk(self, inbound: Inbound, part: ToDesk, state: State) -> Text | None:
        user = inbound.user
        if part.action == "close":
            self.desk.close_by_user(user)
            return None
        if self.desk.blocked(user):
            state.case_id = None
            return Text(self.engine.t("blocked", state.lang)) if self.desk.block_notice_due(user) else None
        if part.action == "open":
            state.case_id = self.desk.open_case(
                user, inbound.channel, part.topic, part.text, part.priority, part.tags, inbound.display_name
            )
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
