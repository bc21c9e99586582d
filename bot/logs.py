"""Logging setup: level and format, and a filter that masks every secret (bot tokens, webhook secret) at every level.

The filter sits on the root handler, so it sees every record that is written, whichever library logged it
(python-telegram-bot logs the API URL, which holds the token, at DEBUG); uncaught exceptions are routed through
logging so their text is masked too.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_SECRET = 8  # shorter values are not treated as secrets (they would mask ordinary words)


class MaskSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= MIN_SECRET:
            self.secrets.add(secret)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: leave it to the formatter's own error path
            message = str(record.msg)
        record.msg, record.args = self.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


_mask = MaskSecrets()


def hide(secret: str | None) -> None:
    """Mask this value in every log line from now on (e.g. a webhook secret generated at start-up)."""
    _mask.add(secret)


def setup(verbose: bool, secrets: Iterable[str] = ()) -> None:
    for secret in secrets:
        hide(secret)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        if _mask not in handler.filters:
            handler.addFilter(_mask)
    for noisy in ("httpx", "httpcore"):  # a line per HTTP request (masked like everything else, but noise)
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)  # type: ignore[arg-type]


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("influbot").critical("uncaught exception", exc_info=(kind, value, tb))
