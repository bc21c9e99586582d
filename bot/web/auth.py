"""Web desk accounts and sessions: scrypt password hashes, hashed session tokens, CSRF tokens, login rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from bot.storage.base import Row, Storage

PREFIX = "web:"  # a web moderator's key on the desk ("web:anna")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MIN_PASSWORD = 10
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MiB per hash: slow for a guesser, fast enough for a login
FAILURES = 5  # failed logins per name or per address ...
WINDOW = 15 * 60.0  # ... within this many seconds, then wait


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(got, expected)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BadName(ValueError):
    pass


class Accounts:
    """Moderator accounts and their sessions, on the storage protocols."""

    # a hash to check against when the name does not exist, so a login takes as long either way
    _DUMMY = hash_password(secrets.token_urlsafe(8))

    def __init__(self, store: Storage, session_seconds: float = 12 * 3600.0, clock: Callable[[], float] | None = None):
        self.store = store
        self.session_seconds = session_seconds
        self.clock = clock or store.clock

    @staticmethod
    def check_name(name: str) -> str:
        if not NAME.match(name):
            raise BadName("a name is 1-40 characters: lower-case letters, digits, '.', '_' or '-'")
        return name

    @staticmethod
    def check_password(password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
        return password

    def add(self, name: str, password: str) -> bool:
        return self.store.moderators.add(self.check_name(name), hash_password(self.check_password(password)))

    def passwd(self, name: str, password: str) -> bool:
        return self.store.moderators.set_password(name, hash_password(self.check_password(password)))

    def remove(self, name: str) -> bool:
        return self.store.moderators.remove(name)

    def names(self) -> list[str]:
        return [r["name"] for r in self.store.moderators.list()]

    def exists(self, name: str) -> bool:
        return self.store.moderators.get(name) is not None

    def is_moderator(self, who: str) -> bool:
        """For the desk: a `web:` key is a moderator while the account exists."""
        return who.startswith(PREFIX) and self.exists(who[len(PREFIX) :])

    def login(self, name: str, password: str) -> str | None:
        """A new session token if the password is right, else None."""
        row = self.store.moderators.get(name)
        ok = verify_password(password, row["password_hash"] if row else self._DUMMY)
        if not (row and ok):
            return None
        token = secrets.token_urlsafe(32)
        self.store.sessions.create(token_hash(token), name, secrets.token_urlsafe(32))
        return token

    def session(self, token: str | None) -> Row | None:
        """The live session for a cookie's token (idle ones end), refreshed."""
        if not token:
            return None
        key = token_hash(token)
        row = self.store.sessions.get(key)
        if row is None:
            return None
        if self.clock() - row["seen"] > self.session_seconds:
            self.store.sessions.delete(key)
            return None
        if self.clock() - row["seen"] > 60:
            self.store.sessions.touch(key)
        return row

    def logout(self, token: str | None) -> None:
        if token:
            self.store.sessions.delete(token_hash(token))


class LoginLimiter:
    """At most FAILURES failed logins per name and per client address in WINDOW seconds (this process)."""

    def __init__(self, failures: int = FAILURES, window: float = WINDOW, clock: Callable[[], float] = time.monotonic):
        self.failures, self.window, self.clock = failures, window, clock
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        q, now = self._seen[key], self.clock()
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def wait(self, *keys: str) -> float:
        """Seconds until another try is allowed (0 when it is)."""
        with self._lock:
            waits = [self.window - (self.clock() - q[0]) for q in map(self._recent, keys) if len(q) >= self.failures]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._recent(key).append(self.clock())

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._seen.pop(name_key, None)
