"""End to end: the real `influbot run telegram` process against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
USER = {"id": 42, "is_bot": False, "first_name": "Anna", "language_code": "nl"}
CHAT = {"id": 42, "type": "private", "first_name": "Anna"}


def update(update_id: int, text: str) -> dict:
    message = {"message_id": update_id, "date": int(time.time()), "chat": CHAT, "from": USER, "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


class FakeBotApi(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: list[tuple[str, dict]] = []
        self.pending = [update(1, "/start"), update(2, "wat kost het certificaat?"), update(3, "ik wil niet meer leven")]
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: FakeBotApi

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        method = self.path.rsplit("/", 1)[-1]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)).decode()
        if "json" in (self.headers.get("Content-Type") or ""):
            params = json.loads(body or "{}")
        else:
            params = {k: v[0] for k, v in parse_qs(body).items()}
        with self.server.lock:
            self.server.calls.append((method, params))
            if method == "getMe":
                result = BOT
            elif method == "getUpdates":
                offset = int(params.get("offset", 0) or 0)
                result = [u for u in self.server.pending if u["update_id"] >= offset]
            elif method == "sendMessage":
                result = {
                    "message_id": len(self.server.calls),
                    "date": int(time.time()),
                    "chat": CHAT,
                    "text": params.get("text", ""),
                }
            else:
                result = True
        if method == "getUpdates" and not result:
            time.sleep(0.2)
        payload = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def sent_texts(server: FakeBotApi) -> list[str]:
    with server.lock:
        return [p.get("text", "") for m, p in server.calls if m == "sendMessage"]


def test_run_telegram_against_a_fake_bot_api(tmp_path):
    server = FakeBotApi()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-not-real",
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}/bot",
        "INFLUBOT_DB": str(tmp_path / "e2e.db"),
    }
    env.pop("DISCORD_BOT_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "telegram"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.time() + 90
        while time.time() < deadline and not any("1813" in t for t in sent_texts(server)):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.3)
        texts = sent_texts(server)
        assert any("influbot" in t for t in texts), texts
        assert any("49" in t for t in texts), texts
        assert any("1813" in t and "112" in t for t in texts), texts
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        server.shutdown()
    assert code == 0
    assert "TEST-TOKEN" not in proc.stderr.read()
