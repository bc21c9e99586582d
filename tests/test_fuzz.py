"""Fuzzing: generated and hostile input in every conversation state never breaks the bot.

`Service.process` catches everything (the user then gets an apology), so "no exception" is checked where it
counts: no message may reach that guard (it logs "message not handled"), every reply has visible text, and
the state it leaves behind can be stored and read back. `chat --json` is fuzzed through the real process.

More examples: INFLUBOT_FUZZ_EXAMPLES=20000 (default 2,000); INFLUBOT_FUZZ_RANDOM=1 for fresh random examples
instead of the fixed CI set.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.core.commands import NAMES as COMMANDS
from bot.core.flows import PAYLOAD
from bot.core.render import plain
from bot.core.types import Inbound, State
from bot.desk import Desk
from bot.service import Service, build_engine
from bot.storage.sqlite import SqliteStorage as SqliteStore

EXAMPLES = int(os.environ.get("INFLUBOT_FUZZ_EXAMPLES", "2000"))
RANDOM = os.environ.get("INFLUBOT_FUZZ_RANDOM") == "1"

# How to reach each state, as a user would (a payload is a button press).
SETUP: dict[str, list[str]] = {
    "idle": [],
    "menu": ["/start"],
    "quiz": ["/quiz 1"],
    "quiz_paused": ["/quiz 3", "/mens", "press:faq:cert_price"],
    "quiz_after_referral": ["/quiz 4", "ik wil niet meer leven"],
    "exam": ["/examen", "a", "b"],
    "review": ["/quiz 2", *["d"] * 8, "/herhaal"],
    "deflect": ["/mens"],
    "intake": ["/mens", "press:human:intake"],
    "handoff": ["/mens", "press:human:intake", "een vraag over mijn contract"],
    "forget_confirm": ["/vergeet"],
    "french_menu": ["/taal fr", "/quiz"],
    "language_menu": ["/taal"],
}

UNICODE_DIGITS = "²³¹①②⑨⓪٠١٢٣۴۵०१२३４５𝟎𝟏𝟐"
WORDS = [
    "wat", "kost", "certificaat", "ja", "nee", "a", "b", "2", "label", "#ad", "ik", "wil", "een", "mens", "dood", "leven",
    "niet", "meer", "quiz", "examen", "/stop", "stop", "oui", "non", "merci", "hulp", "moderator", "@everyone", "<b>",
    "&amp;", "İ", "ß", "œ", "\u200b", "\u202e", "\ufeff", "\x00", "\r", "\n", "😀", "👍🏽", "ا", "中", "Z̷̢͓a̶l̸g̵o",
]  # fmt: skip

text_any = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=60)
surrogates = st.lists(
    st.one_of(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()), st.sampled_from(WORDS)),
    max_size=8,
).map("".join)
digits = st.one_of(
    st.text(alphabet=UNICODE_DIGITS, min_size=1, max_size=4),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=3),
    st.integers(-10, 10**12).map(str),
    st.just("9" * 5000),
)
commands = st.builds(
    lambda name, sep, arg: f"/{name}{sep}{arg}",
    st.one_of(st.sampled_from(sorted(COMMANDS)), st.from_regex(r"[A-Za-z0-9_@]{1,15}", fullmatch=True)),
    st.sampled_from(["", " ", "@influbot ", "@otherbot ", "  "]),
    st.one_of(digits, st.sampled_from(["", "nl", "fr", "xx", "en", "999", "1 2", "①"]), text_any),
)
salad = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
long_text = st.builds(
    lambda word, n: word * n, st.sampled_from(["x", "ik wil dood ", "wat kost het? ", "😀"]), st.integers(500, 1500)
)
typed = st.one_of(text_any, surrogates, digits, commands, salad, long_text, st.sampled_from(["", " ", "\x00", "\n\n", "/"]))
payloads = st.one_of(
    st.from_regex(PAYLOAD),
    st.builds(
        lambda a, b: f"{a}:{b}", st.sampled_from(["ans", "faq", "quiz", "cmd", "forget", "human", "lang", "menu"]), text_any
    ),
    text_any,
    st.sampled_from(["ans:x:1", "faq:../../etc", "forget:yes", "quiz:999", "ans:ch1_q01:9", "quiz:٣", "ans:x:٣", ""]),
)
message = st.one_of(typed.map(lambda t: ("text", t)), payloads.map(lambda p: ("choice", p)))


class Guarded(logging.Handler):
    """Counts messages that reached the service's guard (an exception inside the bot)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    engine = build_engine(seed=7)
    store = SqliteStore(":memory:")  # the same SQL, without the disk: the examples are what takes the time
    desk = Desk(store, engine.t)
    service = Service(engine, store, desk, Settings(db_path=tmp_path_factory.mktemp("fuzz") / "unused.db"))
    snapshots: dict[str, dict] = {}
    for name, steps in SETUP.items():
        user = f"console:setup-{name}"
        for step in steps:
            if step.startswith("press:"):
                service.process(Inbound(user=user, kind="choice", payload=step[6:], channel="console"))
            else:
                service.process(Inbound(user=user, text=step, channel="console"))
        snapshots[name] = store.get_state(user).to_dict()
    assert snapshots["handoff"]["case_id"] and snapshots["exam"]["quiz"] and snapshots["forget_confirm"]["flow"] == "forget"
    assert snapshots["quiz_paused"]["quiz"]["paused"] and snapshots["intake"]["flow"] == "intake"
    guard = Guarded()
    logging.getLogger("bot").addHandler(guard)
    yield service, snapshots, guard
    logging.getLogger("bot").removeHandler(guard)


_users = itertools.count()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(
    state=st.sampled_from(sorted(SETUP)),
    messages=st.lists(message, min_size=1, max_size=3),
    channel=st.sampled_from(["console", "telegram", "discord"]),
)
def test_no_input_in_any_state_breaks_the_bot(world, state, messages, channel):
    service, snapshots, guard = world
    user = f"{channel}:fuzz{next(_users)}"
    start = State.from_dict(snapshots[state])
    if state == "handoff":  # a real case of this user's own
        start.case_id = service.desk.open_case(user, channel, "fuzz", "opened for the fuzz test")
    service.store.put_state(user, start)
    before = len(guard.records)
    for kind, value in messages:
        inbound = Inbound(
            user=user, text=value if kind == "text" else "", kind=kind, payload=value if kind == "choice" else "", channel=channel
        )
        reply = service.process(inbound)
        assert len(guard.records) == before, guard.records[before:]
        lang = service.store.get_state(user).lang
        assert plain(reply, service.engine.t, lang).strip(), f"no visible reply in {state} to {inbound!r}"[:500]
    State.from_dict(json.loads(json.dumps(service.store.get_state(user).to_dict())))


# -- chat --json through the real process ------------------------------------------------------------


def hostile_lines(rng: random.Random, n: int) -> list[bytes]:
    """Raw lines as a script, a fuzzer or a broken pipe would send them."""
    makers = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))).replace(b"\n", b""),
        lambda: json.dumps({"user": rng.choice(["a", "b", "\ud800", "", 5]), "text": rng.choice(WORDS) + "\udfff"}).encode(),
        lambda: (
            json.dumps(
                {"user": f"u{rng.randrange(20)}", "text": " ".join(rng.choices(WORDS, k=rng.randrange(1, 9)))}, ensure_ascii=False
            )
            .encode("utf-8", "surrogatepass")
            .replace(b"\n", b" ")
        ),
        lambda: rng.choice([b"{", b'{"user":', b'{"user": "a", "text": ', b"[1,2]", b"null", b'{"text": {"a": 1}}', b"{}"]),
        lambda: rng.choice(UNICODE_DIGITS).encode() + rng.choice([b"", b")", b" "]),
        lambda: b"/" + rng.choice(sorted(COMMANDS)).encode() + b" " + rng.choice(UNICODE_DIGITS).encode(),
        lambda: b"\x00" * rng.randrange(1, 50),
        lambda: rng.choice([b"/mens", b"/vergeet", b"ja", b"1", b"/quiz", b"/examen", b"a", b"/stop", b"/start"]),
        lambda: "İ".encode() * rng.randrange(1, 30) + b" @influbot ik wil niet meer leven",
    ]
    lines = [rng.choice(makers)() for _ in range(n)]
    lines[n // 3] = b"x" * 1_000_000
    lines[2 * n // 3] = b"ik wil dood " * 90_000
    return lines


def test_chat_json_survives_generated_hostile_lines(tmp_path):
    """reliability.md: chat --json died 28 times on 1,142 lines; strict UTF-8 lost valid neighbours."""
    rng = random.Random(None if RANDOM else 1142)
    lines = hostile_lines(rng, max(1200, EXAMPLES // 2))
    env = {**os.environ, "INFLUBOT_DB": str(tmp_path / "fuzz.db"), "PYTHONIOENCODING": "utf-8:strict"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--json"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        env=env,
        timeout=600,
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, stderr[-3000:]
    out = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert len(out) == len(lines), "exactly one JSON object per line"
    assert not [o for o in out if o.get("error", "").startswith("internal")], "no line reached the per-line guard"
    assert all(o.get("text") or o.get("error", "").startswith("invalid JSON") for o in out)
    assert "Traceback" not in stderr and "not handled" not in stderr, stderr[-3000:]
