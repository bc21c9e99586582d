"""The Rasa NLU backend against a fake Rasa server (no Rasa needed): mapping, decisions, fallback, log-once."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.core.nlu import MARGIN, THRESHOLD, Prediction
from bot.core.types import Inbound, Referral, State
from bot.nlu_rasa import RasaClassifier, to_prediction


def parse_body(*ranking: tuple[str, float], text: str = "x") -> dict:
    ranked = [{"name": n, "confidence": c} for n, c in ranking]
    return {
        "text": text,
        "intent": ranked[0] if ranked else {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": ranked,
    }


class FakeRasa:
    """A tiny stand-in for `rasa run --enable-api`: canned /model/parse answers, optional delay."""

    def __init__(self):
        self.body: object = parse_body(("cert_price", 0.9), ("cert_what", 0.05), ("greet", 0.03), ("thanks", 0.02))
        self.raw: bytes | None = None  # when set, sent verbatim instead of JSON
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict] = []
        self.connections: list[socket.socket] = []
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def start(self, port: int = 0) -> FakeRasa:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like Sanic

            def setup(self):
                super().setup()
                fake.connections.append(self.connection)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                payload = self.rfile.read(length)
                fake.requests.append({"path": self.path, "json": json.loads(payload or b"null")})
                if fake.delay:
                    time.sleep(fake.delay)
                data = fake.raw if fake.raw is not None else json.dumps(fake.body).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        for conn in self.connections:  # drop kept-alive connections too, as a dying server would
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.connections.clear()


class Builtin:
    """Stands in for the built-in classifier, so a fallback is recognisable."""

    def __init__(self):
        self.calls: list[str] = []

    def predict(self, text: str, top: int = 3) -> Prediction:
        self.calls.append(text)
        return Prediction("builtin_intent", 0.77, (("builtin_intent", 0.77), ("other", 0.1))[:top])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake():
    server = FakeRasa().start()
    yield server
    server.stop()


@pytest.fixture
def builtin():
    return Builtin()


@pytest.fixture
def rasa(fake, builtin):
    clf = RasaClassifier(fake.url, fallback=builtin, timeout=0.3, retry_after=0)
    yield clf
    clf.close()


def test_maps_intent_ranking_to_a_prediction(rasa, fake, builtin):
    p = rasa.predict("hoeveel kost het certificaat")
    assert p == Prediction("cert_price", 0.9, (("cert_price", 0.9), ("cert_what", 0.05), ("greet", 0.03)))
    assert p.confident
    assert fake.requests == [{"path": "/model/parse", "json": {"text": "hoeveel kost het certificaat"}}]
    assert builtin.calls == []
    assert rasa.last_source == "rasa"


def test_top_limits_the_ranking_and_it_is_sorted(rasa, fake):
    fake.body = parse_body(("b", 0.2), ("a", 0.7), ("c", 0.1))
    assert rasa.predict("x", top=2).ranking == (("a", 0.7), ("b", 0.2))
    assert rasa.predict("x", top=5).intent == "a"


def test_low_confidence_is_not_confident(rasa, fake):
    fake.body = parse_body(("cert_price", THRESHOLD - 0.05), ("greet", 0.1))
    p = rasa.predict("x")
    assert not p.ambiguous and not p.confident


def test_close_top_two_are_ambiguous(rasa, fake):
    fake.body = parse_body(("cert_price", 0.5), ("cert_what", 0.5 - MARGIN / 2))
    p = rasa.predict("x")
    assert p.confidence >= THRESHOLD and p.ambiguous and not p.confident


def test_out_of_scope_from_rasa_passes_through(rasa, fake):
    fake.body = parse_body(("out_of_scope", 0.95), ("greet", 0.02))
    p = rasa.predict("wat is het weer")
    assert p.intent == "out_of_scope" and p.confident


def test_empty_ranking_means_out_of_scope(rasa, fake, builtin):
    fake.body = parse_body()
    p = rasa.predict("")
    assert p == Prediction("out_of_scope", 0.0, (("out_of_scope", 0.0),))
    assert builtin.calls == []


def test_ranking_missing_uses_the_top_intent():
    body = {"text": "x", "intent": {"name": "greet", "confidence": 0.8}, "entities": []}
    assert to_prediction(body) == Prediction("greet", 0.8, (("greet", 0.8),))


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"intent_ranking": "nope"}', b'{"intent_ranking": [{"name": "a"}]}', b""],
)
def test_bad_body_falls_back(rasa, fake, builtin, raw):
    fake.raw = raw
    assert rasa.predict("hallo").intent == "builtin_intent"
    assert builtin.calls == ["hallo"]
    assert rasa.last_source == "fallback"


def test_server_error_falls_back(rasa, fake, builtin):
    fake.status = 500
    assert rasa.predict("hallo").intent == "builtin_intent"


def test_slow_server_falls_back_within_the_timeout(fake, builtin):
    fake.delay = 1.0
    clf = RasaClassifier(fake.url, fallback=builtin, timeout=0.2, retry_after=0)
    t0 = time.perf_counter()
    p = clf.predict("hallo", top=1)
    elapsed = time.perf_counter() - t0
    clf.close()
    assert p == Prediction("builtin_intent", 0.77, (("builtin_intent", 0.77),))
    assert elapsed < 0.9


def test_stopped_server_falls_back(fake, builtin):
    clf = RasaClassifier(fake.url, fallback=builtin, retry_after=0)
    assert clf.predict("a").intent == "cert_price"
    fake.stop()
    assert clf.predict("b").intent == "builtin_intent"
    assert builtin.calls == ["b"]
    clf.close()


def test_nothing_listening_falls_back(builtin):
    clf = RasaClassifier(f"http://127.0.0.1:{free_port()}", fallback=builtin, retry_after=0)
    assert clf.predict("a").intent == "builtin_intent"
    clf.close()


def test_warns_once_per_outage(fake, builtin, caplog):
    clf = RasaClassifier(fake.url, fallback=builtin, timeout=0.3, retry_after=0)
    caplog.set_level(logging.INFO, logger="bot.nlu_rasa")

    def warnings() -> int:
        return sum(r.levelno == logging.WARNING for r in caplog.records)

    assert clf.predict("a").intent == "cert_price"
    assert warnings() == 0
    fake.stop()
    for _ in range(4):
        clf.predict("b")
    assert warnings() == 1  # one outage, one warning
    assert "built-in classifier" in caplog.records[-1].getMessage()
    fake.start(port=fake.port)  # Rasa is back on the same address
    assert clf.predict("c").intent == "cert_price"
    assert any("answers again" in r.getMessage() for r in caplog.records)
    assert clf.predict("d").intent == "cert_price"
    assert warnings() == 1
    fake.stop()
    clf.predict("e")
    clf.predict("f")
    assert warnings() == 2  # a new outage warns again
    clf.close()


def test_skips_rasa_for_a_while_after_a_failure(fake, builtin):
    now = [100.0]
    clf = RasaClassifier(fake.url, fallback=builtin, retry_after=5.0, clock=lambda: now[0])
    fake.status = 503
    clf.predict("a")
    fake.status = 200
    asked = len(fake.requests)
    clf.predict("b")  # within retry_after: not asked
    assert len(fake.requests) == asked and clf.last_source == "fallback"
    now[0] += 6
    assert clf.predict("c").intent == "cert_price"  # asked again, recovered
    clf.close()


def test_needs_a_fallback():
    with pytest.raises(ValueError):
        RasaClassifier("http://127.0.0.1:1")


def test_engine_with_rasa_down_still_refers_a_crisis(monkeypatch):
    from bot.service import build_engine

    monkeypatch.setenv("INFLUBOT_NLU", "rasa")
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    engine = build_engine(seed=42)
    assert isinstance(engine.classifier, RasaClassifier)
    reply, _ = engine.handle(Inbound(user="console:t", text="ik wil niet meer leven"), State())
    assert any(isinstance(p, Referral) for p in reply)
    # and an ordinary question is still answered by the built-in classifier
    reply, _ = engine.handle(Inbound(user="console:t", text="hoeveel kost het certificaat"), State(lang="nl", greeted=True))
    assert engine.classifier.last_source == "fallback"
    assert reply.intent == "cert_price"
    engine.classifier.close()


def test_engine_uses_rasa_answers(monkeypatch, fake):
    from bot.service import build_engine

    fake.body = parse_body(("cert_price", 0.93), ("cert_what", 0.04))
    monkeypatch.setenv("INFLUBOT_NLU", "rasa")
    monkeypatch.setenv("RASA_URL", fake.url)
    engine = build_engine(seed=42)
    reply, _ = engine.handle(Inbound(user="console:t", text="zeg eens iets over de prijs"), State(lang="nl", greeted=True))
    assert reply.intent == "cert_price"
    assert engine.classifier.last_source == "rasa"
    engine.classifier.close()


def test_default_engine_does_not_use_rasa(monkeypatch):
    from bot.service import build_engine

    monkeypatch.delenv("INFLUBOT_NLU", raising=False)
    assert not isinstance(build_engine(seed=42).classifier, RasaClassifier)
