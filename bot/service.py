"""Runs the core for one inbound message: dedup, flood control, state, desk and safety log.

One message is one transaction under the user's lock: the dedup mark, the new state, the case messages and
any queued reply commit together or not at all, and a desk action on the same user waits for it.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.content import Content, content_hash, load_content
from bot.core.nlu import load_models
from bot.core.pipeline import Engine
from bot.core.safety_model import load_crisis_model
from bot.core.types import Action, HandoffNotice, Inbound, Referral, Reply, State, Text, ToDesk
from bot.desk import Desk
from bot.desk.moderators import Moderators
from bot.storage import Storage, open_storage


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
    def __init__(self, engine: Engine, store: Storage, desk: Desk, settings: Settings, clock: Callable[[], float] = time.time):
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
        moderators: Callable[[str], bool] | None = None,
        purge: bool = True,
        store: Storage | None = None,
    ) -> Service:
        settings = settings or Settings.from_env()
        engine = build_engine(seed=seed)
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

    def process(self, inbound: Inbound, queue_reply: Callable[[Reply, str], Any] | None = None) -> Reply:
        """Handle one message. `queue_reply(reply, lang)`, if given, runs inside the transaction (to put the reply
        in the outbox, so it is sent even if this process dies right after the commit)."""
        with self.store.locked(inbound.user):
            reply, lang = self._process(inbound)
            if queue_reply is not None and reply:
                queue_reply(reply, lang)
        return reply

    def _process(self, inbound: Inbound) -> tuple[Reply, str]:
        if inbound.message_id and self.store.dedup.seen(inbound.user, inbound.message_id):
            return Reply(), ""
        state = self.store.users.get(inbound.user)
        if self._flooding(inbound.user):
            crisis = self.engine.safety.detect(inbound.text) if inbound.text else None
            if not crisis:
                reply = Reply()
                if inbound.user not in self.warned:
                    self.warned.add(inbound.user)
                    reply.append(Text(self.engine.t("slow_down", state.lang)))
                return reply, state.lang
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


def snippets(engine: Engine, lang: str) -> dict[str, str]:
    """Saved replies for the desk: the standard referral texts (short form), one per topic."""
    return {topic: engine.referrals.render(topic, lang, short=True).text for topic in engine.content.templates}
