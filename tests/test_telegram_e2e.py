"""End to end: the real `influbot run telegram` process against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.fake_bot_api import FakeBotApi, text_update


def sent_texts(server: FakeBotApi) -> list[str]:
    return server.texts(42)


def test_run_telegram_against_a_fake_bot_api(tmp_path):
    server = FakeBotApi().start()
    for i, text in enumerate(["/start", "wat kost het certificaat?", "ik wil niet meer leven"], 1):
        server.add(text_update(i, text))
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-not-real",
        "TELEGRAM_API_BASE_URL": server.url,
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
        server.stop()
    assert code == 0
    assert server.confirmed == {1, 2, 3}, "every update confirmed (after it was handled)"
    assert "TEST-TOKEN" not in proc.stderr.read()
