"""Settings (bot/config.py): every variable validated in one place, one clear line per bad value, no secret shown."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from bot import logs
from bot.config import Settings, SettingsError

TOKEN = "123456:SECRET-token-value"

BAD = {
    "INFLUBOT_RETENTION_DAYS": "dertig",
    "INFLUBOT_OVERDUE_MINUTES": "-5",
    "INFLUBOT_SHOW_MODERATOR_NAMES": "misschien",
    "INFLUBOT_FLOOD_MESSAGES": "eight",
    "INFLUBOT_FLOOD_SECONDS": "nan",
    "INFLUBOT_NLU": "gpt",
    "RASA_URL": "localhost:5005",
    "TELEGRAM_BOT_TOKEN": "not a token",
    "TELEGRAM_MOD_CHAT_ID": "moderators",
    "TELEGRAM_MODERATOR_IDS": "11,abc",
    "TELEGRAM_WEBHOOK_URL": "bot.example.org/telegram",
    "TELEGRAM_WEBHOOK_SECRET": "has spaces in it",
    "TELEGRAM_WEBHOOK_PORT": "99999",
    "TELEGRAM_API_BASE_URL": "ftp://x",
    "DISCORD_BOT_TOKEN": "short",
    "DISCORD_GUILD_ID": "my-server",
    "DISCORD_MOD_CHANNEL_ID": "1.5",
    "DISCORD_MOD_ROLE_ID": "@mods",
    "DISCORD_MESSAGE_CONTENT": "2",
}


def test_defaults_from_an_empty_environment():
    s = Settings.from_env({})
    assert (s.flood_messages, s.flood_seconds, s.telegram_webhook_port, s.nlu) == (8, 10.0, 8443, "builtin")
    assert s.telegram_token is None and s.secrets == ()


def test_good_values_are_read():
    env = {
        "INFLUBOT_FLOOD_MESSAGES": " 12 ",
        "INFLUBOT_SHOW_MODERATOR_NAMES": "Yes",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_MOD_CHAT_ID": "-1001234567890",
        "TELEGRAM_MODERATOR_IDS": "11, 22",
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram",
        "TELEGRAM_WEBHOOK_PORT": "8080",
        "DISCORD_MESSAGE_CONTENT": "1",
        "INFLUBOT_NLU": "rasa",
    }
    s = Settings.from_env(env)
    assert s.flood_messages == 12 and s.show_moderator_names and s.telegram_moderator_ids == {"11", "22"}
    assert s.telegram_webhook_port == 8080 and s.discord_message_content and s.nlu == "rasa"
    assert s.secrets == (TOKEN,)


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_names_its_variable(name):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: BAD[name]})
    message = str(err.value)
    assert message.startswith(name) and "\n" not in message


@pytest.mark.parametrize("name", ["TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"])
def test_a_bad_secret_is_never_quoted(name):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: BAD[name]})
    assert BAD[name] not in str(err.value)


def test_the_repr_shows_no_token():
    """Code review B7: the dataclass repr printed both tokens."""
    s = Settings(telegram_token=TOKEN, discord_token="D" * 59, telegram_webhook_secret="webhook-secret-1")
    for shown in (repr(s), str(s), f"{s}"):
        assert TOKEN not in shown and "D" * 59 not in shown and "webhook-secret-1" not in shown


@pytest.mark.parametrize("name", ["INFLUBOT_FLOOD_MESSAGES", "TELEGRAM_WEBHOOK_PORT", "TELEGRAM_BOT_TOKEN"])
def test_the_cli_prints_one_line_and_exits_2(tmp_path, name):
    env = {**os.environ, "INFLUBOT_DB": str(tmp_path / "s.db"), name: BAD[name]}
    proc = subprocess.run([sys.executable, "-m", "bot", "chat", "--json"], input="", capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and name in proc.stderr and "Traceback" not in proc.stderr


def test_the_mask_covers_every_level_logger_argument_and_traceback(capsys):
    mask = logs.MaskSecrets([TOKEN, "short"])
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(mask)
    log = logging.getLogger("test.mask")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        log.debug("Set Bot API URL: http://x/bot%s", TOKEN)
        log.info(f"url {TOKEN}/getMe")
        try:
            raise RuntimeError(f"POST http://x/bot{TOKEN}/sendMessage failed")
        except RuntimeError:
            log.exception("request failed")
        log.warning("a short value such as short is not treated as a secret")
    finally:
        log.removeHandler(handler)
    err = capsys.readouterr().err
    assert TOKEN not in err and err.count("***") == 3 and "bot***/sendMessage" in err
    assert "short is not treated" in err
