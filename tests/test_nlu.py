"""The built-in classifier on held-out questions, language detection, determinism."""

from __future__ import annotations

import json

import numpy as np

from bot.content import load_content
from bot.core.nlu import IntentClassifier, read_models, save_models
from bot.core.text import normalize
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


def test_nearest_example_index_equals_brute_force_cosine():
    rows = [
        ("hoeveel kost het certificaat", "price"),
        ("wat is de prijs van de opleiding", "price"),
        ("welk label zet ik op mijn post", "label"),
        ("moet ik advertentie schrijven", "label"),
        ("hoe lang duurt de e-learning", "duration"),
    ]
    model = IntentClassifier.train(rows, epochs=3, neighbours=True)
    vectors = {text: model._vector(normalize(text)) for text, _ in rows}
    for query in ("prijs certificaat", "label post advertentie", "hoe lang e-learning duurt"):
        idx, q = model._vector(normalize(query))
        best = model.neighbours.best(idx, q)
        for c, name in enumerate(model.classes):
            sims = []
            for text, intent in rows:
                if intent == name:
                    d_idx, d_val = vectors[text]
                    common, qi, di = np.intersect1d(idx, d_idx, return_indices=True)
                    kept = model.idf[common] >= np.percentile(model.idf, 1.0)  # the index leaves out the most common 1%
                    sims.append(float((q[qi] * d_val[di])[kept].sum()))
            assert abs(best[c] - max(sims)) < 1e-2, (query, name)


def test_neighbour_index_survives_save_and_load(tmp_path):
    rows = [("hoeveel kost het", "price"), ("welk label", "label"), ("hoe lang duurt het", "duration")]
    model = IntentClassifier.train(rows, epochs=2, neighbours=True)
    detector = load_models_detector()
    save_models(tmp_path / "m.npz", model, detector)
    again, _ = read_models(tmp_path / "m.npz")
    assert again.neighbours is not None
    assert (again.probabilities("hoeveel kost het") == model.probabilities("hoeveel kost het")).all()


def load_models_detector():
    from bot.core.nlu import LanguageDetector

    return LanguageDetector.train({"nl": ["hoeveel kost het"], "fr": ["combien"], "en": ["how much"]})
