"""End to end: the real `influbot run telegram` process against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from tests.fake_bot_api import FakeBotApi as SharedFake
from tests.fake_bot_api import text_update

TOKEN = "123456:TEST-TOKEN-not-real"


def update(update_id: int, text: str) -> dict:
    return text_update(update_id, text)


class FakeBotApi(SharedFake):
    """The shared fake, with the three updates these tests send."""

    def __init__(self):
        super().__init__()
        self.pending = [update(1, "/start"), update(2, "wat kost het certificaat?"), update(3, "ik wil niet meer leven")]


def sent_texts(server: FakeBotApi) -> list[str]:
    with server.lock:
        return [p.get("text", "") for m, p in server.calls if m == "sendMessage"]


def start_bot(tmp_path, server: FakeBotApi, *args: str, **env_extra: str) -> subprocess.Popen:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}/bot",
        "INFLUBOT_DB": str(tmp_path / "e2e.db"),
        **env_extra,
    }
    env.pop("DISCORD_BOT_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args, "run", "telegram"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_bot(proc: subprocess.Popen, server: FakeBotApi) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        server.shutdown()
    return code, proc.stderr.read()


def wait_for(condition, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and not condition():
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    assert condition()


def test_run_telegram_against_a_fake_bot_api(tmp_path):
    server = FakeBotApi()
    proc = start_bot(tmp_path, server)
    try:
        wait_for(lambda: any("1813" in t for t in sent_texts(server)), proc)
        texts = sent_texts(server)
        assert any("influbot" in t for t in texts), texts
        assert any("49" in t for t in texts), texts
        assert any("1813" in t and "112" in t for t in texts), texts
    finally:
        code, err = stop_bot(proc, server)
    assert code == 0
    assert "TEST-TOKEN" not in err


def test_verbose_run_never_logs_a_token(tmp_path):
    """reliability.md D6: `influbot -v run telegram` logged the token 14 times (PTB's "Set Bot API URL" at DEBUG)."""
    server = FakeBotApi()
    proc = start_bot(tmp_path, server, "-v")
    try:
        wait_for(lambda: any("1813" in t for t in sent_texts(server)), proc)
    finally:
        code, err = stop_bot(proc, server)
    assert code == 0
    assert "DEBUG telegram" in err, "the debug log was on"
    assert "Set Bot API URL" in err and "/bot***" in err, "the lines that held the token are there, masked"
    assert TOKEN not in err and "TEST-TOKEN" not in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def webhook_run(tmp_path, **env: str) -> tuple[int, str, FakeBotApi, list[int]]:
    server = FakeBotApi()
    server.pending = []
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg"
    proc = start_bot(
        tmp_path,
        server,
        "-v",
        TELEGRAM_WEBHOOK_URL=url,
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(port),
        **env,
    )
    statuses: list[int] = []
    try:

        def registered() -> dict | None:
            with server.lock:
                return next((p for m, p in server.calls if m == "setWebhook"), None)

        wait_for(lambda: registered() is not None, proc)
        secret = registered().get("secret_token")
        assert secret, "setWebhook always carries a secret"
        wait_for(lambda: post(url, update(900, "hallo"), "wrong") == 403, proc, 30)
        statuses += [post(url, update(901, "ik wil niet meer leven"), None), post(url, update(902, "hoi"), "wrong")]
        statuses.append(post(url, update(903, "wat kost het certificaat?"), secret))
        wait_for(lambda: any("49" in t for t in sent_texts(server)), proc, 30)
    finally:
        code, err = stop_bot(proc, server)
    return code, err, server, statuses


def test_webhook_without_a_secret_generates_one_and_refuses_requests_without_it(tmp_path):
    """reliability.md D10: with no TELEGRAM_WEBHOOK_SECRET, a POST with no or a wrong secret was processed."""
    code, err, server, statuses = webhook_run(tmp_path)
    assert code == 0 and statuses == [403, 403, 200]
    assert not any("1813" in t for t in sent_texts(server)), "the unauthenticated crisis update was not processed"
    assert "generated a random secret" in err
    secret = next(p for m, p in server.calls if m == "setWebhook")["secret_token"]
    assert secret not in err, "the generated secret is not printed"


def test_webhook_with_a_configured_secret(tmp_path):
    code, err, server, statuses = webhook_run(tmp_path, TELEGRAM_WEBHOOK_SECRET="configured-secret-123")
    assert code == 0 and statuses == [403, 403, 200]
    assert next(p for m, p in server.calls if m == "setWebhook")["secret_token"] == "configured-secret-123"
    assert "configured-secret-123" not in err and "generated" not in err
