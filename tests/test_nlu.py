"""The built-in classifier on held-out questions, language detection, determinism."""

from __future__ import annotations

import json

from bot.content import load_content
from bot.core.nlu import IntentClassifier, read_models, save_models
from tests.conftest import DATA

EVAL = [json.loads(line) for line in (DATA / "faq_eval.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def accuracy(engine) -> float:
    right = sum(engine.classifier.predict(row["text"]).intent == row["intent"] for row in EVAL)
    return right / len(EVAL)


def test_eval_set_is_big_enough_and_held_out():
    langs = [row["lang"] for row in EVAL]
    assert len(EVAL) >= 200 and langs.count("nl") >= 140 and langs.count("fr") >= 30 and langs.count("en") >= 30
    training = {text.lower().strip() for rows in load_content().training.values() for text, _ in rows}
    copies = [row["text"] for row in EVAL if row["text"].lower().strip() in training]
    assert not copies, copies


def test_faq_accuracy_at_least_90_percent(engine):
    wrong = [
        (r["text"], r["intent"], engine.classifier.predict(r["text"]).intent)
        for r in EVAL
        if engine.classifier.predict(r["text"]).intent != r["intent"]
    ]
    assert accuracy(engine) >= 0.90, "\n".join(map(str, wrong))


def test_language_detection_on_eval(engine):
    right = sum(engine.detector.detect(r["text"])[0] == r["lang"] for r in EVAL)
    assert right / len(EVAL) >= 0.9


def test_training_is_deterministic(content):
    rows = [row for lang in content.training for row in content.training[lang]][:400]
    a, b = IntentClassifier.train(rows, epochs=2), IntentClassifier.train(rows, epochs=2)
    assert (a.weights == b.weights).all()


def test_model_roundtrip(tmp_path, engine):
    path = tmp_path / "m.npz"
    save_models(path, engine.classifier, engine.detector)
    loaded, detector = read_models(path)
    for text in ("wat kost het certificaat", "combien coûte le certificat", "how do i disclose an ad"):
        assert loaded.predict(text).intent == engine.classifier.predict(text).intent
        assert detector.detect(text) == engine.detector.detect(text)
