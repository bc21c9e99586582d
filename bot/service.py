"""Runs the core for one inbound message: dedup, flood control, state, desk and safety log."""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.content import Content, content_hash, load_content
from bot.core.nlu import load_models
from bot.core.pipeline import Engine
from bot.core.safety_model import load_crisis_model
from bot.core.types import Action, HandoffNotice, Inbound, Referral, Reply, State, Text, ToDesk
from bot.desk import Desk
from bot.store import SqliteStore, Store


def build_engine(content: Content | None = None, seed: int | None = None, clock: Callable[[], float] = time.time) -> Engine:
    content = content or load_content()
    classifier, detector = load_models(content.training, content_hash(folders=("intents",)))
    calm = [text for rows in content.training.values() for text, _ in rows]
    crisis_model = load_crisis_model(content.safety_training, calm, content_hash(folders=("intents", "referrals")))
    if os.environ.get("INFLUBOT_NLU") == "rasa":  # optional Rasa server; the built-in model stays as fallback
        from bot.nlu_rasa import RasaClassifier

        classifier = RasaClassifier(os.environ.get("RASA_URL", "http://127.0.0.1:5005"), fallback=classifier)
    return Engine(content, classifier, detector, seed=seed, clock=clock, crisis_model=crisis_model)


class Service:
    def __init__(self, engine: Engine, store: Store, desk: Desk, settings: Settings, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.store = store
        self.desk = desk
        self.settings = settings
        self.clock = clock
        self.recent: dict[str, deque[float]] = defaultdict(deque)
        self.warned: set[str] = set()

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        db_path: str | Path | None = None,
        seed: int | None = None,
        surfaces: tuple[str, ...] = (),
    ) -> Service:
        settings = settings or Settings.from_env()
        engine = build_engine(seed=seed)
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

    def _flooding(self, user: str) -> bool:
        now = self.clock()
        window = self.recent[user]
        window.append(now)
        while window and now - window[0] > self.settings.flood_seconds:
            window.popleft()
        if len(window) <= self.settings.flood_messages:
            self.warned.discard(user)
            return False
        return True

    def process(self, inbound: Inbound) -> Reply:
        if inbound.message_id and self.store.seen(inbound.user, inbound.message_id):
            return Reply()
        state = self.store.get_state(inbound.user)
        if self._flooding(inbound.user):
            crisis = self.engine.safety.detect(inbound.text) if inbound.text else None
            if not crisis:
                reply = Reply()
                if inbound.user not in self.warned:
                    self.warned.add(inbound.user)
                    reply.append(Text(self.engine.t("slow_down", state.lang)))
                return reply
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
