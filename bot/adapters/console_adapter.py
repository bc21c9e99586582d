"""Terminal chat (`influbot chat`) and its line-based JSON contract (`influbot chat --json`)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import select
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

from bot.core.render import plain
from bot.core.text import valid_unicode
from bot.core.types import Inbound, Referral, Reply
from bot.guard import log_failure
from bot.service import Service

CHANNEL = "console"
MAX_LINE = 4 * 1024 * 1024  # bytes per `chat --json` line; the rest of a longer line is skipped
PASTE_QUIET = 0.15  # seconds: lines arriving closer together than this are one pasted message
QUIT = ("/quit", "/exit")

log = logging.getLogger(__name__)


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


def read_lines(stdin: IO[str]) -> Iterator[str]:
    """Lines from stdin, each decoded on its own (invalid UTF-8 becomes U+FFFD), whatever the locale says.

    Reading the bytes keeps one bad line from taking the lines around it along (a text stream decodes its whole
    read-ahead buffer at once, and a strict UTF-8 locale raises on the first bad byte).
    """
    binary = getattr(stdin, "buffer", None)
    if binary is None:  # already text (tests, embedding)
        for line in stdin:
            yield valid_unicode(line.rstrip("\r\n"))
        return
    while line := binary.readline(MAX_LINE):
        if len(line) == MAX_LINE and not line.endswith(b"\n"):
            while (rest := binary.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
        yield line.decode("utf-8", "replace").rstrip("\r\n")


def write_line(stdout: IO[str], obj: dict[str, Any]) -> None:
    """One JSON object per line, always UTF-8, flushed."""
    data = json.dumps(obj, ensure_ascii=False) + "\n"
    binary = getattr(stdout, "buffer", None)
    if binary is None:
        stdout.write(data)
        stdout.flush()
        return
    binary.write(data.encode("utf-8", "replace"))
    binary.flush()


def parse_line(line: str) -> tuple[str, str] | None:
    """(user, text) for a line: a JSON object {"user", "text"}, or bare text for the user "console"."""
    if not line.lstrip().startswith("{"):
        return "console", line
    try:
        msg = json.loads(line)
        return valid_unicode(str(msg.get("user") or "console")), valid_unicode(str(msg.get("text") or ""))
    except (ValueError, AttributeError, RecursionError):
        return None


def run_json(service: Service, stdin: IO[str], stdout: IO[str]) -> None:
    """One JSON object out per input line, in order, flushed. No flood limit: every line is handled."""
    for line in read_lines(stdin):
        parsed = parse_line(line)
        if parsed is None:
            write_line(stdout, {"user": None, "text": "", "error": 'invalid JSON: expected {"user": ..., "text": ...}'})
            continue
        user, text = parsed
        try:
            reply = service.process(Inbound(user=_user_key(user), text=text, channel=CHANNEL))
            out = reply_json(service, user, text, reply)
            relayed = deliver_outbox(service, user)
            if relayed:
                out["relayed"] = relayed
        except Exception as exc:  # noqa: BLE001 - one line must never take the process (and the lines after it) down
            log_failure(log, "chat --json", exc)
            out = {"user": user, "text": service.engine.t("error_apology", "nl"), "error": "internal error (logged)"}
        write_line(stdout, out)


class Typed:
    """What the person types in the terminal: one message per Enter, and a paste of several lines is one message.

    Only a terminal pastes; from a pipe (a script) every line is its own message, as before.
    """

    def __init__(self, fd: int, quiet: float = PASTE_QUIET):
        self.fd, self.quiet = fd, quiet
        self.tty = os.isatty(fd)
        self.buffer = b""
        self.eof = False

    def _more(self, timeout: float | None) -> bool:
        if self.eof:
            return False
        if timeout is not None:
            try:
                if not select.select([self.fd], [], [], timeout)[0]:
                    return False
            except (OSError, ValueError):  # no select on this stream: take what is there
                return False
        chunk = os.read(self.fd, 65536)
        self.eof = not chunk
        self.buffer += chunk
        return bool(chunk)

    def read(self) -> str | None:
        """The next message (a paste's lines joined by newlines), or None at the end of input."""
        while b"\n" not in self.buffer and self._more(None):
            pass
        while self.tty and self._more(self.quiet):  # lines right behind it belong to the same paste
            pass
        if b"\n" in self.buffer:  # an unfinished last line waits for its Enter
            head, _, self.buffer = self.buffer.rpartition(b"\n") if self.tty else self.buffer.partition(b"\n")
        elif self.buffer:  # the end of input without a final newline
            head, self.buffer = self.buffer, b""
        else:
            return None
        return head.decode("utf-8", "replace")


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
    typed = Typed(sys.stdin.fileno())
    try:
        while True:
            print("> ", end="", flush=True)
            message = typed.read()
            if message is None:
                break
            lines = message.split("\n")
            quit_at = next((i for i, line in enumerate(lines) if line.strip().lower() in QUIT), None)
            text = "\n".join(lines[:quit_at]).strip("\n")
            if text or quit_at is None:
                with lock:
                    try:
                        show(service.process(Inbound(user=key, text=text, channel=CHANNEL)))
                    except Exception as exc:  # noqa: BLE001 - the chat goes on
                        log_failure(log, "console", exc)
                        print(f"\n🤖 {t('error_apology', 'nl')}\n", flush=True)
            if quit_at is not None:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        print("\n👋", file=sys.stderr)
