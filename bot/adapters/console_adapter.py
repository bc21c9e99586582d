"""Terminal chat (`influbot chat`) and its line-based JSON contract (`influbot chat --json`)."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from typing import IO, Any

from bot.core.render import plain
from bot.core.types import Inbound, Referral, Reply
from bot.service import Service

CHANNEL = "console"


def _user_key(name: str) -> str:
    return f"{CHANNEL}:{name}"


def reply_json(service: Service, user: str, text: str, reply: Reply) -> dict[str, Any]:
    state = service.store.users.get(_user_key(user))
    referral = next((p for p in reply if isinstance(p, Referral)), None)
    handoff = next((p for p in reply if type(p).__name__ == "HandoffNotice"), None)
    return {
        "user": user,
        "text": plain(reply, service.engine.t, state.lang),
        "parts": [{"type": type(p).__name__, **dataclasses.asdict(p)} for p in reply],
        "intent": reply.intent,
        "confidence": round(reply.confidence, 4),
        "lang": state.lang,
        "referral": {"topic": referral.topic, "helplines": list(referral.helplines)} if referral else None,
        "handoff": {"status": handoff.status, "case_id": state.case_id} if handoff else None,
    }


def deliver_outbox(service: Service, user: str) -> list[str]:
    """Moderator replies and notices for this console user, in order: leased, shown, then marked sent."""
    shown = []
    outbox = service.store.outbox
    while rows := outbox.lease(CHANNEL, target=_user_key(user)):
        for row in rows:
            shown.append(row["payload"]["text"])
            outbox.sent(row["id"])
    return shown


def run_json(service: Service, stdin: IO[str], stdout: IO[str]) -> None:
    """One JSON object out per input line, in order, flushed."""
    for line in stdin:
        line = line.rstrip("\n")
        user, text = "console", line
        if line.lstrip().startswith("{"):
            try:
                msg = json.loads(line)
                user, text = str(msg.get("user") or "console"), str(msg.get("text") or "")
            except (ValueError, AttributeError):
                out = {"user": None, "text": "", "error": 'invalid JSON: expected {"user": ..., "text": ...}'}
                stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
                stdout.flush()
                continue
        reply = service.process(Inbound(user=_user_key(user), text=text, channel=CHANNEL))
        out = reply_json(service, user, text, reply)
        relayed = deliver_outbox(service, user)
        if relayed:
            out["relayed"] = relayed
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()


def run_interactive(service: Service, user: str = "console") -> None:
    """A pleasant terminal chat: greeting, numbered choices, moderator replies shown as they arrive."""
    key = _user_key(user)
    t = service.engine.t
    lock = threading.Lock()
    stop = threading.Event()

    def show(parts: Reply) -> None:
        lang = service.store.users.get(key).lang
        text = plain(parts, t, lang)
        if text:
            print(f"\n🤖 {text}\n", flush=True)

    def poll() -> None:
        while not stop.wait(1.0):
            with lock:
                for text in deliver_outbox(service, user):
                    print(f"\n{text}\n> ", end="", flush=True)

    with lock:
        show(service.process(Inbound(user=key, text="/start", channel=CHANNEL)))
    threading.Thread(target=poll, daemon=True).start()
    try:
        while True:
            try:
                line = input("> ")
            except EOFError:
                break
            if line.strip().lower() in ("/quit", "/exit"):
                break
            with lock:
                show(service.process(Inbound(user=key, text=line, channel=CHANNEL)))
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        print("\n👋", file=sys.stderr)
