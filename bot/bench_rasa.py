"""`make bench-rasa`: the built-in classifier against Rasa 3.6 (light and DIET pipelines), one table.

Rasa is measured by the shared harness ($RASA_TOOLS/evaluate.py, default ../shared/tools/rasa) run with
the Rasa venv ($RASA_VENV, default /tmp/rasa-venv); the built-in classifier is measured the same way in a
fresh child process: cold train on intents/, model load, accuracy and macro-F1 on tests/data/faq_eval.jsonl
(macro-F1 over the union of gold and predicted intents, as the harness does), parse latency over 300
parses cycling the test texts, peak RSS, and the install size of what it needs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.content import data_root

LATENCY_N = 300


def rasa_tools() -> Path:
    if os.environ.get("RASA_TOOLS"):
        return Path(os.environ["RASA_TOOLS"])
    return data_root().parent / "shared" / "tools" / "rasa"


def rasa_venv() -> Path:
    return Path(os.environ.get("RASA_VENV", "/tmp/rasa-venv"))


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def write_test_file(src: Path, dst: Path) -> int:
    """The harness wants exactly {"text", "intent"} per line: strip the extra keys (lang, ...)."""
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    dst.write_text("".join(json.dumps({"text": r["text"], "intent": r["intent"]}, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


BUILTIN_CHILD = r"""
import json, math, os, resource, sys, tempfile, time
from collections import Counter
from pathlib import Path

t0 = time.perf_counter()
from bot.content import load_training
from bot.core.nlu import IntentClassifier, LanguageDetector, read_models, save_models
import_s = time.perf_counter() - t0

root, test_path, n_lat = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
rows = [r for lang_rows in load_training(root).values() for r in lang_rows]
test = [json.loads(line) for line in test_path.read_text(encoding="utf-8").splitlines() if line.strip()]
t0 = time.perf_counter()
model = IntentClassifier.train(rows, neighbours=True)  # as the bot trains it
train_s = time.perf_counter() - t0
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "model.npz"
    save_models(path, model, LanguageDetector.train({"nl": [], "fr": []}))
    model_bytes = path.stat().st_size
    t0 = time.perf_counter()
    model, _ = read_models(path)
    load_s = time.perf_counter() - t0
t0 = time.perf_counter()
model.predict(test[0]["text"])
first_ms = (time.perf_counter() - t0) * 1000
pred = [model.predict(r["text"]).intent for r in test]
lat = []
from bot.core import nlu

for i in range(n_lat):
    text = test[i % len(test)]["text"]
    model.probabilities.cache_clear()  # every parse timed as a new message
    nlu.features.cache_clear()
    nlu.feature_keys.cache_clear()
    t0 = time.perf_counter()
    model.predict(text)
    lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
gold = [r["intent"] for r in test]
tp, fp, fn = Counter(), Counter(), Counter()
for g, p in zip(gold, pred):
    if g == p:
        tp[g] += 1
    else:
        fp[p] += 1
        fn[g] += 1
f1s = []
for lab in sorted(set(gold) | set(pred)):
    prec = tp[lab] / (tp[lab] + fp[lab]) if tp[lab] + fp[lab] else 0.0
    rec = tp[lab] / (tp[lab] + fn[lab]) if tp[lab] + fn[lab] else 0.0
    f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
k = max(1, math.ceil(0.99 * len(lat)))
print(json.dumps({
    "accuracy": sum(g == p for g, p in zip(gold, pred)) / len(gold),
    "macro_f1": sum(f1s) / len(f1s),
    "train_seconds": train_s,
    "import_seconds": import_s,
    "model_load_seconds": load_s,
    "model_bytes": model_bytes,
    "first_parse_ms": first_ms,
    "parse_latency_ms": {"median": lat[len(lat) // 2] if len(lat) % 2 else (lat[len(lat) // 2 - 1] + lat[len(lat) // 2]) / 2,
                         "p99": lat[min(k, len(lat)) - 1]},
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "n_train": len(rows),
}))
"""


def builtin_result(root: Path, test: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", BUILTIN_CHILD, str(root), str(test), str(LATENCY_N)],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(root),
    )
    result = json.loads(out.stdout)
    import numpy
    import yaml

    deps = dir_bytes(Path(numpy.__file__).parent) + dir_bytes(Path(yaml.__file__).parent)
    result["install_bytes"] = deps  # what the classifier needs beyond Python: numpy + PyYAML
    result["install_note"] = "numpy+PyYAML"
    return result


def rasa_result(pipeline: str, root: Path, test: Path, diet_epochs: int | None = None) -> dict:
    tools, venv = rasa_tools(), rasa_venv()
    env = {**os.environ, "RASA_VENV": str(venv), "RASA_TELEMETRY_ENABLED": "false"}
    with tempfile.TemporaryDirectory(prefix="influbot-bench-rasa-") as work:
        choice = ["--pipeline", pipeline]
        if pipeline == "diet" and diet_epochs:  # the shared diet.yml trains 100 epochs: ~40 s each on 2 CPUs here
            config = Path(work) / "diet.yml"
            text = (tools / "configs" / "diet.yml").read_text(encoding="utf-8")
            config.write_text(text.replace("epochs: 100", f"epochs: {diet_epochs}"), encoding="utf-8")
            choice = ["--config", str(config)]
        out = subprocess.run(
            [str(venv / "bin" / "python"), str(tools / "evaluate.py"), str(root / "intents"), str(test)]
            + [*choice, "--latency-n", str(LATENCY_N)],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
        )
    if out.returncode != 0:
        raise RuntimeError(f"evaluate.py --pipeline {pipeline} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout)
    result["install_bytes"] = dir_bytes(venv)
    result["install_note"] = "whole venv"
    return result


def serve_rasa(model_dir: Path, port: int) -> subprocess.Popen:
    """`rasa run --enable-api` on 127.0.0.1 with the model in `model_dir`, once /status answers."""
    import httpx

    model = next(model_dir.rglob("*.tar.gz"))
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        [str(rasa_venv() / "bin" / "rasa"), "run", "--enable-api", "-m", str(model), "-i", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=model_dir,
    )
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status", timeout=1.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(1.0)
    proc.kill()
    raise RuntimeError("the Rasa server did not start")


def end_to_end(pipelines: list[str], diet_epochs: int | None, heldout: list[str]) -> dict[str, dict[str, dict]]:
    """The same held-out questions through `chat --json`, with the built-in classifier and with Rasa as the NLU
    (each Rasa model is trained once and serves every set): {set: {NLU: report}}."""
    from bot import evaluation

    sets = {name: evaluation.rows(name) for name in heldout}
    results = {name: {"built-in": evaluation.faq_report(items)} for name, items in sets.items()}
    root = data_root()
    for n, pipeline in enumerate(pipelines):
        label = f"Rasa {pipeline}" + (f" ({diet_epochs} ep)" if pipeline == "diet" and diet_epochs else "")
        print(f"end to end with {label} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="influbot-e2e-rasa-") as work:
            test = Path(work) / "one.jsonl"
            test.write_text(json.dumps({"text": "hallo", "intent": "greet"}) + "\n", encoding="utf-8")
            model_dir = Path(work) / "model"
            choice = ["--pipeline", pipeline]
            if pipeline == "diet" and diet_epochs:
                config = Path(work) / "diet.yml"
                config.write_text(
                    (rasa_tools() / "configs" / "diet.yml").read_text().replace("epochs: 100", f"epochs: {diet_epochs}")
                )
                choice = ["--config", str(config)]
            subprocess.run(
                [str(rasa_venv() / "bin" / "python"), str(rasa_tools() / "evaluate.py"), str(root / "intents"), str(test)]
                + [*choice, "--keep-model", str(model_dir), "--latency-n", "1"],
                capture_output=True,
                check=True,
                cwd=work,
                env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
            )
            port = 5105 + n
            server = serve_rasa(model_dir, port)
            try:
                env = {"INFLUBOT_NLU": "rasa", "RASA_URL": f"http://127.0.0.1:{port}"}
                for name, items in sets.items():
                    results[name][label] = evaluation.faq_report(items, env=env)
            finally:
                server.terminate()
                server.wait(timeout=30)
    return results


def table(results: dict[str, dict]) -> str:
    head = "| | " + " | ".join(results) + " |"
    sep = "|---|" + "---:|" * len(results)

    def row(label: str, fmt) -> str:
        return f"| {label} | " + " | ".join(fmt(r) for r in results.values()) + " |"

    lines = [
        head,
        sep,
        row("accuracy", lambda r: f"{r['accuracy']:.3f}"),
        row("macro-F1", lambda r: f"{r['macro_f1']:.3f}"),
        row("parse p50 (ms)", lambda r: f"{r['parse_latency_ms']['median']:.2f}"),
        row("parse p99 (ms)", lambda r: f"{r['parse_latency_ms']['p99']:.2f}"),
        row("train, cold (s)", lambda r: f"{r['train_seconds']:.1f}"),
        row("import (s)", lambda r: f"{r.get('rasa_import_seconds', r.get('import_seconds', 0)):.2f}"),
        row("model load (s)", lambda r: f"{r['model_load_seconds']:.3f}"),
        row("model size (MB)", lambda r: f"{r['model_bytes'] / 1e6:.2f}"),
        row("peak RSS serving (MB)", lambda r: f"{r.get('serve_peak_rss_mb', r['peak_rss_mb']):.0f}"),
        row("peak RSS training (MB)", lambda r: f"{r.get('train_peak_rss_mb', r['peak_rss_mb']):.0f}"),
        row("install size (MB)", lambda r: f"{r['install_bytes'] / 1e6:.0f} ({r['install_note']})"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipelines", default="light,diet", help="Rasa pipelines to run (comma-separated; empty: none)")
    ap.add_argument("--json", action="store_true", help="also print every raw result as JSON")
    ap.add_argument(
        "--diet-epochs",
        type=int,
        default=int(os.environ.get("RASA_DIET_EPOCHS", 0)) or None,
        help="train DIET for this many epochs instead of the shared config's 100 (env RASA_DIET_EPOCHS)",
    )
    ap.add_argument("--only-end-to-end", action="store_true", help="skip the intent-accuracy table on faq_eval.jsonl")
    ap.add_argument(
        "--heldout",
        default="heldout/faq_heldout.jsonl,heldout2/faq_heldout2.jsonl",
        help="end-to-end sets under tests/data/, comma-separated ('' to skip)",
    )
    args = ap.parse_args(argv)
    root = data_root()
    if args.heldout:
        pipelines = [p for p in args.pipelines.split(",") if p] if (rasa_venv() / "bin" / "python").exists() else []
        keys = ("answered_right", "right_with_one_click", "oos_recall", "end_to_end")
        for name, e2e in end_to_end(pipelines, args.diet_epochs, args.heldout.split(",")).items():
            print(f"End to end through chat --json on tests/data/{name}, {datetime.date.today().isoformat()}\n")
            print("| | " + " | ".join(e2e) + " |\n|---|" + "---:|" * len(e2e))
            for key in keys:
                print(f"| {key} | " + " | ".join(f"{r[key]:.3f}" for r in e2e.values()) + " |")
            print(flush=True)
        if args.only_end_to_end:
            return 0
    with tempfile.TemporaryDirectory(prefix="influbot-bench-") as tmp:
        test = Path(tmp) / "faq_eval.jsonl"
        n_test = write_test_file(root / "tests" / "data" / "faq_eval.jsonl", test)
        results: dict[str, dict] = {"built-in": builtin_result(root, test)}
        pipelines = [p for p in args.pipelines.split(",") if p]
        if pipelines and not (rasa_venv() / "bin" / "python").exists():
            print(
                f"no Rasa venv at {rasa_venv()}: run {rasa_tools() / 'install.sh'} (showing the built-in only)", file=sys.stderr
            )
            pipelines = []
        for pipeline in pipelines:
            label = f"Rasa {pipeline}" + (f" ({args.diet_epochs} ep)" if pipeline == "diet" and args.diet_epochs else "")
            print(f"training and evaluating {label} ...", file=sys.stderr, flush=True)
            try:
                results[label] = rasa_result(pipeline, root, test, args.diet_epochs)
            except RuntimeError as exc:  # keep what was measured so far
                print(exc, file=sys.stderr)
            else:
                print(table(results), file=sys.stderr, flush=True)  # partial table, in case a later run is stopped
    langs = sorted(p.name for p in (root / "intents").iterdir() if p.is_dir() and any(p.glob("*.yml")))
    versions = next((r["versions"] for r in results.values() if "versions" in r), {})
    print(
        f"Intent classification, {datetime.date.today().isoformat()}, {platform.machine()} {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}"
        + (f", Rasa {versions.get('rasa')} / TensorFlow {versions.get('tensorflow')}" if versions else "")
    )
    print(
        f"train: intents/ ({', '.join(langs)}; {results['built-in']['n_train']} examples), "
        f"test: tests/data/faq_eval.jsonl ({n_test} rows), latency over {LATENCY_N} parses in-process\n"
    )
    print(table(results))
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
