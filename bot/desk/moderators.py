"""Who may work the desk. Built once and passed to the desk and the adapters (nothing is patched later).

Keys with a trusted prefix (the terminal: whoever can run `influbot desk` can open the database anyway) are
always moderators. Channel adapters `grant` a key after the platform confirmed it (a Telegram admin of the
moderators' group, a Discord member with the moderator role) and `revoke` it when it no longer holds.
"""

from __future__ import annotations

import threading


class Moderators:
    def __init__(self, trusted_prefixes: tuple[str, ...] = ("console:",)):
        self.trusted_prefixes = trusted_prefixes
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, who: str) -> bool:
        return who.startswith(self.trusted_prefixes) or who in self._verified

    def grant(self, who: str) -> None:
        with self._lock:
            self._verified.add(who)

    def revoke(self, who: str) -> None:
        with self._lock:
            self._verified.discard(who)
