"""A fake Telegram Bot API on 127.0.0.1 for real `influbot` processes (end-to-end tests, the relay soak, the
scale test). It keeps updates until a getUpdates offset confirms them, as Telegram does, and records calls."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT = {
    "id": 1,
    "is_bot": True,
    "first_name": "influbot",
    "username": "influbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


def user(uid: int, name: str = "Anna") -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": name, "language_code": "nl"}


def text_update(update_id: int, text: str, uid: int = 42, chat: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    chat = chat or {"id": uid, "type": "private", "first_name": "Anna"}
    message = {"message_id": update_id, "date": int(time.time()), "chat": chat, "from": user(uid), "text": text, **extra}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def callback_update(update_id: int, data: str, uid: int = 42) -> dict[str, Any]:
    msg = {"message_id": update_id, "date": int(time.time()), "chat": {"id": uid, "type": "private"}, "from": BOT, "text": "x"}
    query = {"id": f"cb{update_id}", "from": user(uid), "chat_instance": "c", "data": data, "message": msg}
    return {"update_id": update_id, "callback_query": query}


def poll_result(poll_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The Poll object the Bot API returns for a sendPoll with these parameters."""
    options = [
        {"text": o if isinstance(o, str) else o.get("text", ""), "voter_count": 0, "persistent_id": f"o{i}"}
        for i, o in enumerate(params.get("options", []))
    ]
    return {
        "id": poll_id,
        "question": params.get("question", ""),
        "options": options,
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": False,
        "type": "quiz",
        "allows_multiple_answers": False,
        "allows_revoting": False,
        "members_only": False,
    }


class FakeBotApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, admins: tuple[int, ...] = ()):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.pending: list[dict[str, Any]] = []
        self.confirmed: set[int] = set()
        self.admins = admins
        self.ids = itertools.count(10_000)
        self.topics = itertools.count(500)
        self.sent: dict[int, list[dict[str, Any]]] = defaultdict(list)  # chat id -> sendMessage params
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/bot"

    def start(self) -> FakeBotApi:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the soak does that) is not an error of the fake."""

    def add(self, update: dict[str, Any]) -> None:
        with self.lock:
            self.pending.append(update)

    def texts(self, chat_id: int) -> list[str]:
        with self.lock:
            return [p.get("text", "") for p in self.sent[chat_id]]

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        message = {
            "message_id": next(self.ids),
            "date": int(time.time()),
            "chat": {"id": int(params.get("chat_id") or 0), "type": "private"},
        }
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            self.confirmed.update(u["update_id"] for u in self.pending if u["update_id"] < offset)
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            return self.pending[:100]
        if method == "sendMessage":
            self.sent[int(params["chat_id"])].append(params)
            return {**message, "text": params.get("text", "")}
        if method == "sendPoll":
            self.sent[int(params["chat_id"])].append({"poll": params.get("question", "")})
            return {**message, "poll": poll_result(f"p{message['message_id']}", params)}
        if method == "createForumTopic":
            return {"message_thread_id": next(self.topics), "name": params.get("name", ""), "icon_color": 1}
        if method == "getChatAdministrators":
            return [
                {
                    "status": "administrator",
                    "user": user(a, "Mod"),
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
                for a in self.admins
            ]
        return True


class _Handler(BaseHTTPRequestHandler):
    server: FakeBotApi
    protocol_version = "HTTP/1.1"  # keep-alive, like the real Bot API
    disable_nagle_algorithm = True  # headers and body are two writes: without this each answer waits ~40 ms

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        method = self.path.rsplit("/", 1)[-1]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)).decode()
        if "json" in (self.headers.get("Content-Type") or ""):
            params = json.loads(body or "{}")
        else:
            params = {k: v[0] for k, v in parse_qs(body).items()}
        with self.server.lock:
            self.server.calls.append((method, params))
            result = self.server.answer(method, params)
        if method == "getUpdates" and not result:
            time.sleep(0.1)
        payload = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
