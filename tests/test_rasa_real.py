"""Against real Rasa 3.6 (opt-in: `pytest -m rasa tests/test_rasa_real.py`, never in CI).

Needs the venv made by ../shared/tools/rasa/install.sh (default /tmp/rasa-venv, or $RASA_VENV).
(a) every intents/ file loads with Rasa's own loader without warnings that matter;
(b) a light model trained from intents/ with rasa/config.yml, served by `rasa run --enable-api`,
    answers through RasaClassifier; once the server is stopped, the built-in classifier answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from bot.content import content_hash, load_training
from bot.core.nlu import load_models
from bot.nlu_rasa import RasaClassifier

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("RASA_VENV", "/tmp/rasa-venv"))
PY = VENV / "bin" / "python"
RASA_ENV = {
    **os.environ,
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not PY.exists(),
        reason=f"no Rasa venv at {VENV} (run ../shared/tools/rasa/install.sh, or set RASA_VENV)",
    ),
]

INTENT_FILES = sorted((ROOT / "intents").glob("*/*.yml"))

LOADER = textwrap.dedent(
    """
    import json, logging, sys, warnings
    from collections import defaultdict

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING and record.name.startswith("rasa"):
                records.append(f"log {record.name}: {record.getMessage()}")

    logging.getLogger().addHandler(Keep())
    from rasa.shared.nlu.training_data.loading import load_data

    result = {}
    for path in sys.argv[1:]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del records[:]
            data = load_data(path)
            data.validate()
        texts = defaultdict(set)
        for ex in data.intent_examples:
            texts[ex.get("text").strip().lower()].add(ex.get("intent"))
        result[path] = {
            "examples": len(data.intent_examples),
            "intents": sorted(data.intents),
            "format_ok": data.nlu_examples and all(ex.get("intent") for ex in data.nlu_examples),
            "warnings": [
                f"{w.category.__name__}: {w.message}"
                for w in caught
                if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning))
            ]
            + list(records),
            "conflicts": {t: sorted(i) for t, i in texts.items() if len(i) > 1},
        }
    print("@@RESULT@@" + json.dumps(result))
    """
)


def load_with_rasa(paths: list[Path]) -> dict:
    out = subprocess.run(
        [str(PY), "-c", LOADER, *map(str, paths)], capture_output=True, text=True, env=RASA_ENV, timeout=600, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.split("@@RESULT@@", 1)[1])


@pytest.fixture(scope="module")
def loaded() -> dict:
    assert INTENT_FILES, "no intents/*/*.yml files"
    langs = sorted({p.parent for p in INTENT_FILES})
    return load_with_rasa(INTENT_FILES + langs)  # each file, then each language folder as a whole


@pytest.mark.parametrize("path", INTENT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_intent_file_loads_cleanly_with_rasa(loaded, path):
    got = loaded[str(path)]
    assert got["examples"] > 0, f"Rasa found no intent examples in {path}"
    assert got["format_ok"]
    assert got["warnings"] == [], "\n".join(got["warnings"])
    assert got["conflicts"] == {}, f"same text under several intents: {got['conflicts']}"


def test_each_language_folder_loads_without_conflicts(loaded):
    for lang_dir in sorted({p.parent for p in INTENT_FILES}):
        got = loaded[str(lang_dir)]
        assert got["warnings"] == [], f"{lang_dir.name}: " + "\n".join(got["warnings"])
        assert got["conflicts"] == {}, f"{lang_dir.name}: same text under several intents: {got['conflicts']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own process group, made by start_new_session
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rasa-model")
    run = subprocess.run(
        [str(VENV / "bin" / "rasa"), "train", "nlu", "--nlu", str(ROOT / "intents"), "-c", str(ROOT / "rasa" / "config.yml")]
        + ["--out", str(out), "--fixed-model-name", "influbot-nlu"],
        capture_output=True,
        text=True,
        env={**RASA_ENV, "RASA_CACHE_DIRECTORY": str(out / "cache")},
        cwd=out,
        timeout=900,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return out / "influbot-nlu.tar.gz"


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("rasa-run") / "rasa-run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [str(VENV / "bin" / "rasa"), "run", "--enable-api", "-m", str(model), "-i", "127.0.0.1", "-p", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=RASA_ENV,
            cwd=model.parent,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            assert proc.poll() is None, "rasa run exited:\n" + log.read_text()[-3000:]
            try:
                if httpx.get(url + "/status", timeout=1).status_code == 200:  # 200 once the model is loaded
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "rasa run not ready in 180 s:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        yield proc, url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def builtin():
    return load_models(load_training(ROOT), content_hash(folders=("intents",)))[0]


def test_served_model_answers_then_falls_back_when_stopped(server, builtin, caplog):
    proc, url = server
    clf = RasaClassifier(url, fallback=builtin, timeout=2.0, retry_after=0)  # generous: the first parse warms up
    p = clf.predict("hoeveel kost het certificaat")
    assert clf.last_source == "rasa"
    assert p.intent == "cert_price" and p.confident
    assert len(p.ranking) == 3 and [c for _, c in p.ranking] == sorted((c for _, c in p.ranking), reverse=True)

    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "faq_eval.jsonl").read_text().splitlines() if line]
    nl = [r for r in rows if r.get("lang") == "nl"][:60]
    right = sum(clf.predict(r["text"]).intent == r["intent"] for r in nl)
    assert clf.last_source == "rasa"
    assert right / len(nl) > 0.8, f"Rasa light got {right}/{len(nl)} of the Dutch eval rows"

    clf.client.timeout = 0.5
    t0 = time.perf_counter()
    for r in nl[:20]:
        clf.predict(r["text"])
    per_parse_ms = (time.perf_counter() - t0) * 1000 / 20
    assert per_parse_ms < 200

    stop(proc)
    with caplog.at_level("WARNING", logger="bot.nlu_rasa"):
        p = clf.predict("hoeveel kost het certificaat")
        clf.predict("wat is het certificaat")
    assert clf.last_source == "fallback"
    assert p == builtin.predict("hoeveel kost het certificaat")
    assert sum(r.levelname == "WARNING" for r in caplog.records) == 1
    clf.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-m", "rasa", "-q"]))
