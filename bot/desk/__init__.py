"""The moderator desk: one queue of cases for every channel."""

from bot.desk.desk import Desk, NotAllowed

__all__ = ["Desk", "NotAllowed"]
