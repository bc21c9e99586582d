from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import pytest

from bot.config import Settings
from bot.content import load_content
from bot.core.types import Inbound, State
from bot.desk import Desk
from bot.service import Service, build_engine, snippets
from bot.storage import open_storage

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


class Clock:
    """A fake clock that only moves when told to."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def content():
    return load_content()


@pytest.fixture(scope="session")
def engine():
    return build_engine(seed=42)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server on 127.0.0.1 for the whole session (see bot/storage/local_pg.py)."""
    from bot.storage.local_pg import LocalPostgres

    server = LocalPostgres()
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot start PostgreSQL for the tests ({exc}); `make pg` installs the server")
    yield server
    server.stop()


TABLES = "users, safety_events, inbound_seen, cases, case_messages, outbox, blocks, mod_threads, moderators, web_sessions, audit_log, daily_counts"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """The database a test runs on: a fresh SQLite file, or the session's PostgreSQL emptied."""
    if request.param == "sqlite":
        return str(tmp_path / "test.db")
    return request.getfixturevalue("db_url_postgres")


@pytest.fixture
def db_url_postgres(postgres) -> str:
    """The session's PostgreSQL, emptied."""
    store = open_storage(postgres.url)
    store.db.run(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    store.close()
    return postgres.url


def make_service(db: str, clock, eng=None) -> Service:
    eng = eng or build_engine(seed=42, clock=clock)
    store = open_storage(db, clock=clock)
    desk = Desk(store, eng.t, clock=clock, snippets=lambda lang: snippets(eng, lang))
    return Service(eng, store, desk, Settings(db_path=db), clock=clock)


@pytest.fixture
def service(clock, tmp_path) -> Service:
    svc = make_service(str(tmp_path / "test.db"), clock)
    yield svc
    svc.store.close()


@pytest.fixture
def any_service(clock, db_url) -> Service:
    """The service on SQLite and on PostgreSQL (parametrised)."""
    svc = make_service(db_url, clock)
    yield svc
    svc.store.close()


class Chat:
    """Drive the service like a user would: say(text) returns the reply parts."""

    _ids = itertools.count(1)

    def __init__(self, service: Service, user: str = "console:tester"):
        self.service = service
        self.user = user

    def _tick(self) -> None:
        # a person types a message every couple of seconds (keeps flood control out of the way)
        advance = getattr(self.service.clock, "advance", None)
        if advance:
            advance(2.0)

    def say(self, text: str):
        self._tick()
        return self.service.process(Inbound(user=self.user, text=text, channel="console", message_id=str(next(self._ids))))

    def press(self, payload: str):
        self._tick()
        return self.service.process(Inbound(user=self.user, kind="choice", payload=payload, channel="console"))

    @property
    def state(self) -> State:
        return self.service.store.users.get(self.user)


@pytest.fixture
def chat(service) -> Chat:
    return Chat(service)


def text_of(parts) -> str:
    from bot.core.render import part_text

    return "\n".join(part_text(p, _strings(), "nl") for p in parts)


_STRINGS = None


def _strings():
    global _STRINGS
    if _STRINGS is None:
        from bot.core.i18n import Strings

        _STRINGS = Strings(load_content().ui)
    return _STRINGS


URL_OR_MAIL = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:be|nl|com|org|eu|info)\S*")
LONG_NUMBER = re.compile(r"(?<![\w€.,])(?:\+\d{2}[\s./-]?)?0\d{1,3}(?:[\s./-]?\d{2,3}){2,4}(?![\w%])")
SHORT_NUMBER = re.compile(r"(?<![\w€.,/:-])1\d{2,3}(?: 000)?(?![\w%€]|[.,:/-]\d|\s?%|\s?€)")


def phone_like(text: str) -> list[str]:
    """Every phone-like number in a text (URLs and e-mail addresses left out; years are not phones)."""
    text = URL_OR_MAIL.sub(" ", text)
    found = LONG_NUMBER.findall(text)
    found += SHORT_NUMBER.findall(LONG_NUMBER.sub(" ", text))
    return [f for f in found if not re.fullmatch(r"19\d\d", f)]


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


_RASA_DESELECTED: list[str] = []


def pytest_deselected(items):
    _RASA_DESELECTED.extend(item.nodeid for item in items if item.get_closest_marker("rasa"))


def pytest_terminal_summary(terminalreporter):
    if _RASA_DESELECTED:
        terminalreporter.write_line(
            f"{len(_RASA_DESELECTED)} Rasa tests not run: they are opt-in (`pytest -m rasa`) and need the Rasa 3.6 venv "
            "from ../shared/tools/rasa (install.sh); CI never runs them."
        )
