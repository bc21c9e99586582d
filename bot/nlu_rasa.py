"""Optional Rasa NLU backend: ask a running `rasa run --enable-api` server, fall back to the built-in classifier.

Enabled with INFLUBOT_NLU=rasa (see bot.service.build_engine); RASA_URL points at the server
(default http://127.0.0.1:5005). Same interface as bot.core.nlu.IntentClassifier:
predict(text, top=3) -> Prediction, so the engine's THRESHOLD/MARGIN decisions (Prediction.confident,
ambiguous, out_of_scope) apply unchanged.

The engine is synchronous, so this uses the synchronous httpx.Client (one per classifier, so the
TCP connection is kept alive and reused). Every call has a short timeout; on a timeout, a connection
error, a non-2xx status or an unusable body it answers with the built-in classifier instead. A warning
is logged once per outage: again only after Rasa has answered in between and then failed anew.
After a failure Rasa is skipped for `retry_after` seconds, so a hung server does not add the timeout
to every message.

Safety is never decided here: the safety router runs before intent classification in the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from bot.core.nlu import Prediction

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:5005"
DEFAULT_TIMEOUT = 0.5  # seconds, connect + read; a local Rasa parse takes a few ms


class Classifier(Protocol):
    def predict(self, text: str, top: int = 3) -> Prediction: ...


class RasaUnusable(Exception):
    """Rasa answered, but not with something we can map to a Prediction."""


def to_prediction(body: Any, top: int = 3) -> Prediction:
    """Map a Rasa /model/parse response to a Prediction (ranking best first, at most `top` entries)."""
    if not isinstance(body, dict):
        raise RasaUnusable(f"expected a JSON object, got {type(body).__name__}")
    raw = body.get("intent_ranking")
    if raw is None:  # a pipeline without a ranking still reports its top intent
        raw = [body["intent"]] if isinstance(body.get("intent"), dict) else []
    if not isinstance(raw, list):
        raise RasaUnusable("intent_ranking is not a list")
    ranking: list[tuple[str, float]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise RasaUnusable("intent_ranking entry is not an object")
        name, conf = item.get("name"), item.get("confidence")
        if not isinstance(name, str) or not name or isinstance(conf, bool) or not isinstance(conf, int | float):
            raise RasaUnusable(f"bad intent_ranking entry {item!r}")
        ranking.append((name, float(conf)))
    ranking.sort(key=lambda pair: -pair[1])
    ranking = ranking[: max(1, top)]
    if not ranking:  # e.g. empty text, or a model without intents: nothing recognised
        return Prediction("out_of_scope", 0.0, (("out_of_scope", 0.0),))
    return Prediction(ranking[0][0], ranking[0][1], tuple(ranking))


class RasaClassifier:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        fallback: Classifier | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_after: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        client: httpx.Client | None = None,
    ):
        if fallback is None:
            raise ValueError("RasaClassifier needs a fallback classifier (the built-in one)")
        self.url = url.rstrip("/")
        self.fallback = fallback
        self.retry_after = retry_after
        self.clock = clock
        self.client = client or httpx.Client(timeout=httpx.Timeout(timeout), headers={"Content-Type": "application/json"})
        self.down = False  # inside an outage: warned already
        self.skip_until = 0.0
        self.last_source = "rasa"  # "rasa" or "fallback", for tests and diagnostics
        self._lock = threading.Lock()

    def predict(self, text: str, top: int = 3) -> Prediction:
        if self.down and self.clock() < self.skip_until:
            self.last_source = "fallback"
            return self.fallback.predict(text, top=top)
        try:
            response = self.client.post(f"{self.url}/model/parse", json={"text": text})
            response.raise_for_status()
            prediction = to_prediction(response.json(), top=top)
        except (httpx.HTTPError, ValueError, KeyError, RasaUnusable) as exc:  # JSONDecodeError is a ValueError
            self._failed(exc)
            self.last_source = "fallback"
            return self.fallback.predict(text, top=top)
        self._recovered()
        self.last_source = "rasa"
        return prediction

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.skip_until = self.clock() + self.retry_after
            if self.down:
                return
            self.down = True
        log.warning(
            "Rasa NLU at %s unusable (%s: %s); using the built-in classifier until it answers again",
            self.url,
            type(exc).__name__,
            exc,
        )

    def _recovered(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.info("Rasa NLU at %s answers again", self.url)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RasaClassifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
