"""The Telegram adapter, offline: a recording BaseRequest returns canned Bot API JSON."""

from __future__ import annotations

import contextlib
import html
import itertools
import json
from typing import Any

import pytest
from telegram import Update
from telegram.request import BaseRequest

from bot.adapters.telegram_adapter import adapter_of, build_application, split_html
from bot.config import Settings
from tests.fake_bot_api import poll_result

BOT = {"id": 999, "is_bot": True, "first_name": "Influbot", "username": "influbot"}
USER = 42
MOD = 7
MOD_CHAT = -100500
TOPIC = 77
ADMIN_RIGHTS = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


class RecordingRequest(BaseRequest):
    """Records every Bot API call as (method, params) and answers with canned JSON."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.ids = itertools.count(1000)
        self.admins: list[int] = []
        self.forbidden: set[int] = set()
        self.unauthorized = False

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data=None,
        read_timeout=None,
        write_timeout=None,
        connect_timeout=None,
        pool_timeout=None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "[{":
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        self.calls.append((name, params))
        if self.unauthorized:
            return 401, json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}).encode()
        if name == "sendMessage" and int(params.get("chat_id", 0)) in self.forbidden:
            body = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            return 403, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self.result(name, params)}).encode()

    def result(self, name: str, params: dict[str, Any]) -> Any:
        message = {
            "message_id": next(self.ids),
            "date": 1,
            "chat": {"id": params.get("chat_id", 0), "type": "private"},
            "from": BOT,
        }
        if name == "getMe":
            return BOT
        if name == "sendMessage":
            return {**message, "text": params.get("text", "")}
        if name == "sendPoll":
            return {**message, "poll": poll_result(f"poll{message['message_id']}", params)}
        if name == "createForumTopic":
            return {"message_thread_id": TOPIC, "name": "x", "icon_color": 1}
        if name == "getChatAdministrators":
            rights = dict.fromkeys(ADMIN_RIGHTS, False)
            admins = [
                {"status": "administrator", "user": {"id": uid, "is_bot": False, "first_name": "Admin"}, **rights}
                for uid in self.admins
            ]
            return admins + [
                {"status": "creator", "user": {"id": 1, "is_bot": False, "first_name": "Owner"}, "is_anonymous": False}
            ]
        return True

    def named(self, name: str) -> list[dict[str, Any]]:
        return [p for n, p in self.calls if n == name]

    def texts(self) -> list[str]:
        return [p["text"] for p in self.named("sendMessage")]


_ids = itertools.count(1)


def message(
    text: str | None = None, user: int = USER, chat: int | None = None, chat_type: str = "private", **extra: Any
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": next(_ids),
        "date": 1,
        "chat": {"id": chat if chat is not None else user, "type": chat_type},
        "from": {"id": user, "is_bot": False, "first_name": "Anna", "language_code": "nl"},
        **extra,
    }
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
    return {"update_id": next(_ids), "message": msg}


def callback(data: str, user: int = USER) -> dict[str, Any]:
    msg = {"message_id": next(_ids), "date": 1, "chat": {"id": user, "type": "private"}, "from": BOT, "text": "x"}
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": str(next(_ids)),
            "from": {"id": user, "is_bot": False, "first_name": "Anna"},
            "chat_instance": "c",
            "data": data,
            "message": msg,
        },
    }


def poll_answer(poll_id: str, option: int, user: int = USER) -> dict[str, Any]:
    who = {"id": user, "is_bot": False, "first_name": "Anna"}
    answer = {"poll_id": poll_id, "user": who, "option_ids": [option], "option_persistent_ids": [f"o{option}"]}
    return {"update_id": next(_ids), "poll_answer": answer}


def topic_message(text: str, user: int) -> dict[str, Any]:
    return message(text, user=user, chat=MOD_CHAT, chat_type="supergroup", message_thread_id=TOPIC, is_topic_message=True)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        db_path=tmp_path / "test.db",
        telegram_token="123456:TESTTOKEN",
        telegram_mod_chat_id=str(MOD_CHAT),
        telegram_moderator_ids=frozenset({str(MOD)}),
    )


@pytest.fixture
def rec() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
async def app(service, settings, rec):
    service.desk.surfaces = ("mod:telegram",)
    application = build_application(service, settings, request=rec)
    async with application:
        yield application


async def feed(app, payload: dict[str, Any]) -> None:
    await app.process_update(Update.de_json(payload, app.bot))


def state(service, user: int = USER):
    return service.store.users.get(f"tg:{user}")


async def test_start_sends_greeting_with_keyboard(app, rec, service):
    rec.calls.clear()
    await feed(app, message("/start"))
    sent = rec.named("sendMessage")
    assert sent and all(p["parse_mode"] == "HTML" for p in sent)
    assert html.escape(service.engine.t("greeting", "nl")) in sent[0]["text"]
    keyboards = [p["reply_markup"]["inline_keyboard"] for p in sent if "reply_markup" in p]
    assert keyboards and all(len(row) == 1 for row in keyboards[0])
    assert all(len(row[0]["callback_data"].encode()) <= 64 for row in keyboards[0])


async def test_faq_price(app, rec):
    await feed(app, message("wat kost het certificaat?"))
    assert any("49" in t for t in rec.texts())


async def test_crisis_sends_escaped_referral(app, rec, service):
    text = "ik wil niet meer leven"
    hit = service.engine.safety.detect(text)
    await feed(app, message(text))
    expected = service.engine.referrals.render(hit.topic, state(service).lang, hit.severity)
    assert html.escape(expected.text) in rec.texts()
    assert "1813" in expected.text


async def test_quiz_poll_and_answer(app, rec, service):
    await feed(app, message("/quiz"))
    await feed(app, callback("quiz:1"))
    polls = rec.named("sendPoll")
    assert polls, rec.calls
    run = state(service).quiz
    assert run is not None and run.mode == "quiz"
    from bot.core.quiz import current

    question = current(service.engine.content, run, state(service).lang)
    sent = polls[-1]
    assert sent.get("correct_option_ids", [sent.get("correct_option_id")]) == [question.correct]
    assert polls[-1]["is_anonymous"] is False and polls[-1]["type"] == "quiz"
    assert rec.named("answerCallbackQuery")
    poll_id = next(iter(adapter_of(app).polls))
    rec.calls.clear()
    await feed(app, poll_answer(poll_id, question.correct))
    assert len(state(service).quiz.answers) == 1
    right = html.escape(service.engine.t("quiz_right", state(service).lang))
    assert any(right in text for text in rec.texts())
    assert rec.named("sendPoll")  # the next question


async def test_poll_answer_after_restart_uses_state(app, rec, service):
    await feed(app, callback("quiz:1"))
    adapter_of(app).polls.clear()
    await feed(app, poll_answer("unknown", 0))
    assert state(service).quiz.answers and len(state(service).quiz.answers) == 1


async def test_garbage_callback_is_expired(app, rec, service):
    await feed(app, message("/start"))
    before = state(service).to_dict()
    rec.calls.clear()
    await feed(app, callback("zz:\x00nonsense"))
    assert html.escape(service.engine.t("button_expired", "nl")) in rec.texts()
    after = state(service).to_dict()
    before.pop("offered"), after.pop("offered")
    assert before == after


async def test_photo_gets_only_text(app, rec, service):
    await feed(app, message(photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]))
    assert rec.texts() == [html.escape(service.engine.t("only_text", "nl"))]
    assert service.store.users.version(f"tg:{USER}") == 0, "nothing stored for a photo"


async def test_group_without_mention_is_ignored(app, rec):
    rec.calls.clear()
    await feed(app, message("wat kost het certificaat?", chat=-5, chat_type="group"))
    assert rec.calls == []
    await feed(app, message("@influbot wat kost het certificaat?", chat=-5, chat_type="group"))
    assert any("49" in t for t in rec.texts())


async def test_group_crisis_referral_and_private_hint(app, rec, service):
    await feed(app, message("@influbot ik wil niet meer leven", chat=-5, chat_type="group"))
    texts = rec.texts()
    assert any("1813" in t for t in texts)
    assert html.escape(service.engine.t("group_private", "nl")) in texts
    assert all(p["chat_id"] == -5 for p in rec.named("sendMessage"))


async def test_group_mention_after_dotted_capital_i_keeps_the_crisis_text(app, rec):
    """reliability.md D14: 'İ' lowercases to two characters, the mention was cut at the wrong index, no referral."""
    await feed(app, message("İİİİİİİİİİ @Influbot ik wil niet meer leven", chat=-5, chat_type="group"))
    assert any("1813" in t for t in rec.texts())


async def test_a_longer_username_is_not_a_mention(app, rec):
    """Code review B6: '@influbot_fan hoi' counted as addressed to @influbot."""
    rec.calls.clear()
    await feed(app, message("@influbot_fan wat kost het certificaat?", chat=-5, chat_type="group"))
    await feed(app, message("mail me op x@influbot.be wat kost het?", chat=-5, chat_type="group"))
    assert rec.texts() == []


async def test_an_unexpected_error_gets_an_apology(app, rec, service, monkeypatch, caplog):
    def broken(inbound, state):
        raise KeyError("geheime tekst")

    monkeypatch.setattr(service.engine, "handle", broken)
    await feed(app, message("mijn geheime tekst"))
    assert rec.texts() == [html.escape(service.engine.t("error_apology", "nl"))]
    assert "KeyError" in caplog.text and "geheime" not in caplog.text


async def test_a_failed_send_is_logged_and_the_bot_goes_on(app, rec, service, caplog):
    rec.forbidden.add(USER)
    await feed(app, message("wat kost het certificaat?"))
    rec.forbidden.clear()
    await feed(app, message("wat kost het certificaat?"))
    assert any("49" in t for t in rec.texts())
    assert "failed" in caplog.text and "Forbidden" in caplog.text, "the failed send is logged (by the relay)"


async def test_unicode_digits_and_surrogates_through_telegram(app, rec, service):
    for text in ("/start", "²", "/quiz ①", "hoi \ud800"):
        payload = message("x")
        payload["message"]["text"] = text
        await feed(app, payload)
    assert len(rec.texts()) >= 4 and not any(service.engine.t("error_apology", "nl") in t for t in rec.texts())


async def _open_case(app, service) -> int:
    await feed(app, message("/mens"))
    await feed(app, callback("human:intake"))
    await feed(app, message("ik heb een vraag over <b>mijn</b> contract"))
    case_id = state(service).case_id
    assert case_id is not None
    return case_id


async def test_moderator_flow(app, rec, service):
    case_id = await _open_case(app, service)
    adapter = adapter_of(app)
    rec.calls.clear()
    assert await adapter.deliver_mod_outbox(app.bot) >= 1
    topics = rec.named("createForumTopic")
    assert topics and topics[0]["name"].startswith(f"#{case_id}") and int(topics[0]["chat_id"]) == MOD_CHAT
    assert service.store.threads.ref(case_id, "telegram") == str(TOPIC)
    assert service.store.threads.case("telegram", str(TOPIC)) == case_id
    in_topic = [p["text"] for p in rec.named("sendMessage") if p.get("message_thread_id") == TOPIC]
    assert any("&lt;b&gt;mijn&lt;/b&gt;" in t for t in in_topic)
    assert not any("<b>" in t for t in in_topic)

    delivered_before = len(rec.named("sendMessage"))
    await feed(app, topic_message("Hallo, ik help je graag.", MOD))
    due = service.desk.due("telegram")
    assert due and due[0]["target"] == f"tg:{USER}"
    assert len(rec.named("sendMessage")) == delivered_before, "a plain moderator reply is not echoed in the topic"
    rec.calls.clear()
    assert await adapter.deliver_user_outbox(app.bot) == 1
    sent = rec.named("sendMessage")
    assert int(sent[0]["chat_id"]) == USER and "Hallo, ik help je graag." in sent[0]["text"]
    assert service.desk.due("telegram") == []


async def test_non_moderator_in_topic_is_refused(app, rec, service):
    await _open_case(app, service)
    adapter = adapter_of(app)
    await adapter.deliver_mod_outbox(app.bot)
    rec.calls.clear()
    await feed(app, topic_message("ik ben geen moderator", 555))
    assert service.desk.due("telegram") == []
    assert rec.named("getChatAdministrators")
    assert rec.texts() and rec.named("sendMessage")[0]["message_thread_id"] == TOPIC


async def test_admin_of_mod_chat_is_moderator_and_commands(app, rec, service):
    case_id = await _open_case(app, service)
    await adapter_of(app).deliver_mod_outbox(app.bot)
    rec.admins = [8]
    await feed(app, topic_message("/note let op", 8))
    await feed(app, topic_message("/close", 8))
    assert service.store.cases.get(case_id)["status"] == "closed"
    notes = [m for m in service.store.cases.messages(case_id) if m["author"] == "note"]
    assert any(m["text"] == "let op" for m in notes)


async def test_blocked_by_the_user_is_a_dead_letter_at_once(app, rec, service):
    row_id = service.desk.enqueue("telegram", f"tg:{USER}", {"kind": "notice", "text": "hi"})
    rec.forbidden.add(USER)
    assert await adapter_of(app).deliver_user_outbox(app.bot) == 0
    row = service.store.outbox.get(row_id)
    assert row["status"] == "dead" and row["attempts"] == 1 and "Forbidden" in row["error"]
    assert len([p for p in rec.named("sendMessage") if int(p["chat_id"]) == USER]) == 1, "tried once, not retried"


def test_split_html_at_paragraphs():
    text = "\n\n".join(["a" * 3000, "<b>" * 400, "c" * 10])
    pieces = split_html(text)
    assert all(len(p) <= 4096 for p in pieces)
    assert pieces[0] == "a" * 3000 and "<" not in "".join(pieces)
    assert "".join(split_html("x" * 9000)) == "x" * 9000


def test_split_html_counts_utf16_units_like_telegram():
    """reliability.md D15: a 5,000-character reply with the 👤 prefix gave a first piece of 4,097 UTF-16 units."""
    from bot.adapters.telegram_adapter import units

    text = "👤 Moderator: /help " + "x" * 5000
    pieces = split_html(text)
    assert all(units(p) <= 4096 for p in pieces) and "".join(pieces) == text
    emoji = split_html("😀" * 3000)
    assert all(units(p) <= 4096 for p in emoji) and "".join(emoji) == "😀" * 3000


async def test_serve_invalid_token_returns_2(settings, capsys):
    from types import SimpleNamespace

    from bot.adapters.telegram_adapter import serve

    rec = RecordingRequest()
    rec.unauthorized = True
    stub = SimpleNamespace(desk=SimpleNamespace(is_moderator=lambda who: False), urgency=lambda inbound: None, clock=lambda: 0.0)
    assert await serve(stub, settings, request=rec) == 2
    err = capsys.readouterr().err
    assert "token" in err.lower() and settings.telegram_token not in err
