"""The `influbot chat --json` contract, run as a real process; and the desk console."""

from __future__ import annotations

import json
import os
import subprocess
import sys

KEYS = {"user", "text", "parts", "intent", "confidence", "lang", "referral", "handoff"}


def run_cli(args: list[str], stdin: str, db) -> subprocess.CompletedProcess:
    env = {**os.environ, "INFLUBOT_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_json_contract_one_object_per_line_in_order(tmp_path):
    lines = [
        '{"user": "a", "text": "wat kost het certificaat?"}',
        "ik wil niet meer leven",
        '{"user": "b", "text": "combien coûte le certificat ?"}',
        "{not json",
        "",
        '{"user": "a", "text": "' + "x" * 100_000 + '"}',
        '{"user": "a", "text": "\\u0000\\u0001"}',
        '{"user": "c", "text": "😀😀"}',
    ]
    proc = run_cli(["chat", "--json"], "\n".join(lines) + "\n", tmp_path / "c.db")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    assert set(out[0]) >= KEYS and out[0]["user"] == "a" and "49" in out[0]["text"] and out[0]["lang"] == "nl"
    assert out[1]["user"] == "console" and out[1]["referral"]["topic"] == "suicide"
    assert {"zelfmoordlijn_1813", "emergency_112"} <= set(out[1]["referral"]["helplines"])
    assert out[2]["lang"] == "fr" and "49" in out[2]["text"]
    assert "error" in out[3]
    assert all(o.get("text") for o in out[4:]), "bad input still gets a readable reply"


def test_moderator_reply_reaches_the_console_user(tmp_path):
    db = tmp_path / "d.db"
    first = run_cli(["chat", "--json"], "ik wil iemand spreken\n/mens\nik heb een vraag over mijn contract\n", db)
    replies = [json.loads(line) for line in first.stdout.splitlines()]
    assert replies[-1]["handoff"]["status"] == "opened"
    listing = run_cli(["desk", "list"], "", db)
    assert "#1" in listing.stdout and "waiting" in listing.stdout
    run_cli(["desk", "reply", "1", "Hoi, ik help je verder"], "", db)
    later = run_cli(["chat", "--json"], "hallo?\n", db)
    out = json.loads(later.stdout.splitlines()[0])
    assert any("Hoi, ik help je verder" in r for r in out["relayed"])
    closed = run_cli(["desk", "close", "1"], "", db)
    assert "closed #1" in closed.stdout
    after = json.loads(run_cli(["chat", "--json"], "wat kost het certificaat?\n", db).stdout.splitlines()[0])
    assert "49" in after["text"] and after["handoff"] is None


def test_desk_usage_errors_are_clear(tmp_path):
    proc = run_cli(["desk", "reply", "1"], "", tmp_path / "e.db")
    assert proc.returncode == 2 and "usage" in proc.stdout


def test_a_pasted_caption_is_one_message_with_its_last_line(tmp_path):
    """Walkthrough §14: a pasted 10-line caption became 10 messages and the last line (the question) was lost.

    Run in a pseudo-terminal, as a person uses it; the paste goes to a moderator so the transcript shows what arrived.
    """
    import pty
    import select
    import time

    db = tmp_path / "p.db"
    run_cli(["chat", "--json"], "/mens\n/mens\nik heb een vraag over mijn caption\n", db)
    caption = [f"regel {i} van mijn caption #ad" for i in range(1, 10)] + ["klopt dit zo?"]
    master, slave = pty.openpty()
    env = {**os.environ, "INFLUBOT_DB": str(db)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "chat"], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, seconds: float = 60) -> None:
        nonlocal seen
        deadline = time.time() + seconds
        while marker not in seen and time.time() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert marker in seen, seen.decode(errors="replace")[-2000:]

    try:
        read_until(b"> ")
        seen = b""
        os.write(master, ("\n".join(caption) + "\n").encode())
        read_until(b"Doorgestuurd")
        time.sleep(1.0)
        os.write(master, b"/quit\n")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert seen.count(b"Doorgestuurd") == 1, "one reply for the whole paste"
    show = run_cli(["desk", "show", "1"], "", db).stdout
    assert "klopt dit zo?" in show and all(line in show for line in caption)


def test_a_script_piped_into_the_console_is_one_message_per_line(tmp_path):
    proc = run_cli(["chat", "--user", "pipe"], "/quiz\nwat kost het certificaat?\n/quit\nniet meer gelezen\n", tmp_path / "q.db")
    assert proc.returncode == 0
    replies = [block for block in proc.stdout.split("🤖")[1:]]
    assert len(replies) == 3, proc.stdout  # the greeting, the chapter menu, the price
    assert "49" in replies[2] and "niet meer gelezen" not in proc.stdout
