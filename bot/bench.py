"""`influbot bench`: speed, memory and accuracy, printed as one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def cold_start_seconds(db: str | None = None) -> float:
    """A separate process: start, load everything, answer one message."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "INFLUBOT_DB": db or str(Path(tmp) / "bench.db")}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "chat", "--json"],
            input='{"user": "bench", "text": "wat kost het certificaat?"}\n',
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return time.perf_counter() - start


def storage_numbers(db: str, messages: list[str], count: int) -> dict:
    """The whole message path on a database: user lock, dedup, state read and write, engine, commit."""
    from bot.config import Settings
    from bot.core.types import Inbound
    from bot.service import Service

    service = Service.create(Settings(db_path=db), db_path=db, seed=1)
    try:
        for i, text in enumerate(messages):  # warm-up
            service.process(Inbound(user=f"console:warm{i % 20}", text=text, message_id=f"w{i}"))
        latencies = []
        for i in range(count):
            inbound = Inbound(user=f"console:bench{i % 200}", text=messages[i % len(messages)], message_id=f"m{i}")
            t0 = time.perf_counter()
            service.process(inbound)
            latencies.append(time.perf_counter() - t0)
    finally:
        service.store.close()
    return {
        "db": "postgresql" if db.startswith("postgres") else "sqlite",
        "cold_start_s": round(cold_start_seconds(db), 3),
        "process_p50_ms": round(_percentile(latencies, 0.50) * 1000, 3),
        "process_p99_ms": round(_percentile(latencies, 0.99) * 1000, 3),
        "messages_per_s": round(len(latencies) / sum(latencies), 1),
    }


def with_database(db: str | None, messages: list[str], count: int) -> dict | None:
    if not db:
        return None
    if db != "postgres":
        return storage_numbers(db, messages, count)
    from bot.storage.local_pg import LocalPostgres

    with LocalPostgres(fast=False) as pg:
        return storage_numbers(pg.url, messages, count)


LONG_CAPTION = 2200  # characters: Instagram's limit


# Which set is which: tests/data/README.md. Held-out sets are blind: figures only, never tuned on.
SAFETY_SETS = (
    ("tuning", "safety_eval.jsonl"),
    ("dev", "dev/safety_dev.jsonl"),
    ("dev3", "dev2/safety_dev3.jsonl"),
    ("dev4", "dev4/safety_dev4.jsonl"),
    ("dev5", "dev5/safety_dev5.jsonl"),
    ("dev6", "dev6/safety_dev6.jsonl"),
    ("heldout", "heldout/safety_heldout.jsonl"),
    ("heldout2", "heldout2/safety_heldout2.jsonl"),
    ("heldout3", "heldout3/safety_heldout3.jsonl"),
    ("heldout4", "heldout4/safety_heldout4.jsonl"),
)
FAQ_SETS = (
    ("dev", "dev/faq_dev.jsonl"),
    ("dev2", "dev2/faq_dev2.jsonl"),
    ("dev3", "dev2/faq_dev3.jsonl"),
    ("dev4", "dev4/faq_dev4.jsonl"),
    ("dev5", "dev5/faq_dev5.jsonl"),
    ("dev6", "dev6/faq_dev6.jsonl"),
    ("heldout", "heldout/faq_heldout.jsonl"),
    ("heldout2", "heldout2/faq_heldout2.jsonl"),
    ("heldout3", "heldout3/faq_heldout3.jsonl"),
    ("heldout4", "heldout4/faq_heldout4.jsonl"),
)
CAPTION_SETS = (
    ("tuning", "captions_tuning.jsonl"),
    ("dev2", "dev2/captions_dev2.jsonl"),
    ("dev3", "dev2/captions_dev3.jsonl"),
    ("dev4", "dev4/captions_dev4.jsonl"),
    ("dev5", "dev5/captions_dev5.jsonl"),
    ("dev6", "dev6/captions_dev6.jsonl"),
    ("heldout", "heldout/captions_heldout.jsonl"),
    ("heldout2", "heldout2/captions_heldout2.jsonl"),
    ("heldout3", "heldout3/captions_heldout3.jsonl"),
    ("heldout4", "heldout4/captions_heldout4.jsonl"),
)


def caption_figures(checker: Any, rounds: int = 5) -> dict[str, Any]:
    """The caption check on every caption set that is there, and its speed per caption: mean and p99 over every
    caption of them and a 2,200-character caption made of them."""
    from bot.evaluation import caption_report, rows

    sets = {name: rows(path) for name, path in CAPTION_SETS}
    texts = [r["text"] for items in sets.values() for r in items if isinstance(r.get("text"), str)]
    long = "\n".join(texts)[:LONG_CAPTION] if texts else "Advertentie | " + "x " * (LONG_CAPTION // 2)
    for text in texts[:50] + [long]:  # warm-up: the patterns compile on first use
        checker.check(text)
    times, long_times = [], []
    for _ in range(rounds):
        for text in [*texts, long]:
            t0 = time.perf_counter()
            checker.check(text)
            (long_times if text is long else times).append(time.perf_counter() - t0)
    every = times + long_times
    return {
        "caption_mean_ms": round(sum(every) / len(every) * 1000, 3),
        "caption_p99_ms": round(_percentile(every, 0.99) * 1000, 3),
        "caption_2200_chars_mean_ms": round(sum(long_times) / len(long_times) * 1000, 3),
        "caption_2200_chars_max_ms": round(max(long_times) * 1000, 3),
        **{f"captions_{name}": caption_report(checker, items) for name, items in sets.items() if items},
    }


def forget(engine: Any) -> None:
    """Empty the caches of features and readings, so a repeated benchmark message costs what a new one does."""
    from bot.core import nlu

    nlu.features.cache_clear()
    nlu.feature_keys.cache_clear()
    for classifier in (engine.classifier, getattr(engine.safety.model, "classifier", None)):
        clear = getattr(getattr(classifier, "probabilities", None), "cache_clear", None)
        if clear:
            clear()


def main(args: argparse.Namespace) -> int:
    from bot.core.types import Inbound, State
    from bot.service import build_engine

    engine = build_engine(seed=1)  # trains and caches the model on first use, like a first start
    cold = cold_start_seconds()  # a restart: a fresh process with the cached model
    from bot import evaluation

    faq = evaluation.rows("faq_eval.jsonl")
    safety = evaluation.rows("safety_eval.jsonl")
    messages = [r["text"] for r in faq] + [r["text"] for r in safety] + ["/quiz", "1", "2", "/start", "hallo", ""]
    state = State()
    for text in messages:  # warm-up: lexicon patterns are compiled on first use
        _, state = engine.handle(Inbound(user="console:bench", text=text), state)
    state = State()
    latencies = []
    for i in range(args.messages):
        inbound = Inbound(user="console:bench", text=messages[i % len(messages)])
        forget(engine)  # every message is timed as if the bot had never read it
        t0 = time.perf_counter()
        _, state = engine.handle(inbound, state)
        latencies.append(time.perf_counter() - t0)
    total = sum(latencies)
    safety_latency = []
    for row in safety:
        forget(engine)
        t0 = time.perf_counter()
        engine.safety.detect(row["text"])
        safety_latency.append(time.perf_counter() - t0)
    right = sum(engine.classifier.predict(r["text"]).intent == r["intent"] for r in faq)
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "cold_start_s": round(cold, 3),
        "handle_p50_ms": round(_percentile(latencies, 0.50) * 1000, 3),
        "handle_p99_ms": round(_percentile(latencies, 0.99) * 1000, 3),
        "messages_per_s": round(len(latencies) / total, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "faq_tuning_intent_accuracy": round(right / len(faq), 4) if faq else None,
        "faq_eval_size": len(faq),
        "safety_p99_ms": round(_percentile(safety_latency, 0.99) * 1000, 3) if safety_latency else None,
        **caption_figures(engine.captions),
    }
    conversation = evaluation.conversation_detector(engine)
    for name, path in SAFETY_SETS:
        items = evaluation.rows(path)
        if items:  # the detector alone, and what the user gets through the whole pipeline (warm fallback included)
            for suffix, detector in (("", engine.safety), ("_conversation", conversation)):
                report = evaluation.safety_report(detector, items)
                if not name.startswith("heldout"):
                    report.pop("per_topic")
                result[f"safety_{name}{suffix}"] = report
    for name, path in FAQ_SETS:
        items = evaluation.rows(path)
        if items:
            result[f"faq_{name}"] = evaluation.faq_report(items)
    storage = with_database(getattr(args, "db", None), messages, min(args.messages, 2000))
    if storage:
        result["storage"] = storage
    print(json.dumps(result, ensure_ascii=False))
    return 0
