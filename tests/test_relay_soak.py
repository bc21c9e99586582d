"""kill -9 soak of the relay: the real `influbot run telegram` against the fake Bot API, SIGKILLed again and again
while a moderator writes numbered replies and the user writes numbered messages in an open case.

Required: 0 replies lost, 0 user messages lost (each once in the transcript), at most one duplicate per kill in
either direction. `INFLUBOT_SOAK_KILLS` sets the number of kills (CI: 20).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from bot.core.i18n import Strings
from bot.desk import Desk
from bot.desk.moderators import Moderators
from bot.storage import open_storage
from tests.fake_bot_api import FakeBotApi, text_update

MOD_CHAT = -100777
MODERATOR = 7
USER = 42
KILLS = int(os.environ.get("INFLUBOT_SOAK_KILLS", "20"))


def numbered(texts: list[str], prefix: str) -> Counter:
    found: Counter = Counter()
    for text in texts:
        for word in text.replace("\n", " ").split():
            if word.startswith(prefix) and word[len(prefix) :].isdigit():
                found[word] += 1
    return found


@pytest.mark.soak
def test_relay_survives_kill_9(tmp_path, content):
    db = str(tmp_path / "soak.db")
    store = open_storage(db)
    desk = Desk(store, Strings(content.ui), is_moderator=Moderators(), surfaces=("mod:telegram",))
    case_id = desk.escalate("console:mod", f"tg:{USER}", "telegram", reason="soak", display_name="Anna")
    api = FakeBotApi(admins=(MODERATOR,)).start()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:SOAK-not-real",
        "TELEGRAM_API_BASE_URL": api.url,
        "TELEGRAM_MOD_CHAT_ID": str(MOD_CHAT),
        "TELEGRAM_MODERATOR_IDS": str(MODERATOR),
        "INFLUBOT_DB": db,
        "INFLUBOT_FLOOD_MESSAGES": "1000",
        "INFLUBOT_TELEGRAM_RATE_LIMIT": "0",  # the fake has no limits; Telegram's 20 a minute per group would set the pace
    }
    env.pop("DISCORD_BOT_TOKEN", None)
    stop = threading.Event()
    replies: list[str] = []
    user_messages: list[str] = []

    def moderator() -> None:  # replies written through the desk, in another process than the bot
        n = 0
        while not stop.is_set():
            n += 1
            desk.reply("console:mod", case_id, f"R-{n:04d} antwoord")
            replies.append(f"R-{n:04d}")
            stop.wait(0.15)

    def member() -> None:  # the user writes in the open case; the fake keeps it until confirmed
        n = 0
        while not stop.is_set():
            n += 1
            api.add(text_update(1000 + n, f"U-{n:04d} bericht"))
            user_messages.append(f"U-{n:04d}")
            stop.wait(0.3)

    writers = [threading.Thread(target=moderator), threading.Thread(target=member)]
    for w in writers:
        w.start()
    rng = random.Random(13)
    kills = 0
    proc = None
    try:
        while kills < KILLS:
            proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "telegram"], env=env, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.4, 2.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            kills += 1
        stop.set()
        for w in writers:
            w.join(30)
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "telegram"], env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            got, topic = numbered(api.texts(USER), "R-"), numbered(api.texts(MOD_CHAT), "U-")
            if set(replies) <= set(got) and set(user_messages) <= set(topic) and not store.outbox.pending("telegram"):
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        stop.set()
        if proc is not None and proc.poll() is None:
            proc.kill()
        api.stop()
    to_user = numbered(api.texts(USER), "R-")
    in_topic = numbered(api.texts(MOD_CHAT), "U-")
    transcript = Counter(m["text"].split()[0] for m in store.cases.messages(case_id) if m["author"] == "user")
    lost_replies = [r for r in replies if r not in to_user]
    lost_messages = [u for u in user_messages if transcript[u] == 0]
    report = (
        f"kills={kills} replies={len(replies)} lost={len(lost_replies)} doubled={sum(c - 1 for c in to_user.values())} "
        f"user={len(user_messages)} lost={len(lost_messages)} topic_doubles={sum(c - 1 for c in in_topic.values())}"
    )
    print(report)
    assert kills >= KILLS and len(replies) > 50 and len(user_messages) > 30, report
    assert lost_replies == [] and lost_messages == [], report
    assert all(transcript[u] == 1 for u in user_messages), "each user message handled exactly once"
    assert sum(c - 1 for c in to_user.values()) <= kills, report
    assert set(user_messages) <= set(in_topic) and sum(c - 1 for c in in_topic.values()) <= kills, report
    assert api.confirmed >= {1000 + i for i in range(1, len(user_messages) + 1)}
    store.close()
