"""The per-message guard every handler uses: an unexpected error is logged without the user's text."""

from __future__ import annotations

import logging
import traceback


def where(exc: BaseException) -> str:
    """The error's type and the frames it came through (file:line in function), never its message.

    An exception's message often quotes the input ("invalid literal for int(): '²'", a surrogate's position in the
    text), so it is left out; the frames say where to look, and the source lines are code, not user text.
    """
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    path = " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} in {f.name}" for f in reversed(frames))
    cause = exc.__cause__ or exc.__context__
    during = f" (while handling {type(cause).__name__})" if cause is not None else ""
    return f"{type(exc).__name__}{during} at {path or '?'}"


def log_failure(log: logging.Logger, handler: str, exc: BaseException) -> None:
    """One ERROR line for a message that could not be handled; the user got an apology instead."""
    log.error("%s: message not handled: %s", handler, where(exc))
