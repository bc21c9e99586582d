"""The learned crisis detector: a linear model over word and character n-grams, unioned with the lexicon.

Classes: "calm" and the crisis topics; like the intent classifier it blends the linear model with the nearest
training example per class (bot/core/neighbours.py). P(crisis) = 1 - P(calm); the topic is the likeliest crisis class.
Trained from referrals/training/*.jsonl (crisis and calm messages by several writers) plus the intent
examples as calm messages; cached on disk like the intent classifier. numpy only at serve time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.core.nlu import IntentClassifier, cache_dir, classifier_arrays, classifier_from

log = logging.getLogger(__name__)

MODEL_VERSION = "3"
CONTEXT_TURNS = 2  # previous user messages read together with the current one
CALM_SURE = 0.8
CALM = "calm"  # the intent examples (FAQ questions, greetings, quiz requests) are calm messages too


@dataclass(frozen=True)
class CrisisScore:
    probability: float  # P(crisis)
    topic: str  # likeliest crisis topic
    share: float = 0.0  # P(topic) / P(crisis): how sure the model is of the topic


class CrisisModel:
    def __init__(self, classifier: IntentClassifier):
        self.classifier = classifier
        self.calm = classifier.classes.index(CALM)
        # at P(calm) >= 0.8 the blend cannot lift P(crisis) above 0.7 * 0.2 + 0.3 = 0.44, below every threshold
        # (bot/core/safety.py): most messages skip the nearest-example lookup
        classifier.sure = (self.calm, CALM_SURE)

    def score(self, text: str) -> CrisisScore:
        probs = self.classifier.probabilities(text)
        if probs is None:
            return CrisisScore(0.0, "")
        crisis = probs.copy()
        crisis[self.calm] = -1.0
        best, total = int(crisis.argmax()), float(1.0 - probs[self.calm])
        return CrisisScore(total, self.classifier.classes[best], float(probs[best]) / total if total > 0 else 0.0)

    def about(self, text: str) -> str:
        """For a creator asking about a follower: the follower's likeliest topic."""
        probs = self.classifier.probabilities(text)
        if probs is None:
            return ""
        ranked = sorted(zip(self.classifier.classes, probs, strict=True), key=lambda cp: -cp[1])
        return next((c for c, _ in ranked if c not in (CALM, "creator_follower", "creator_content")), "")

    @classmethod
    def train(cls, rows: list[dict[str, Any]], calm_texts: list[str], epochs: int = 10) -> CrisisModel:
        data = [(_joined(r), r["topic"] if r.get("crisis") else CALM) for r in rows if r.get("text")]
        data += [(text, CALM) for text in calm_texts]
        return cls(IntentClassifier.train(data, epochs=epochs, seed=11, neighbours=True))


def _joined(row: dict[str, Any]) -> str:
    """A message with its context, as the detector reads it at run time: the previous turns first."""
    return join_context(row.get("before") or [], row["text"])


def join_context(before: list[str], text: str) -> str:
    return " ".join([*before[-CONTEXT_TURNS:], text])


def load_crisis_model(rows: Callable[[], list[dict[str, Any]]], calm_texts: list[str], fingerprint: str) -> CrisisModel | None:
    """The trained model for this content fingerprint, trained and cached on first use; None without data.
    `rows` reads the labelled messages, only when the model must be trained (they are not kept in memory)."""
    path = cache_dir() / f"crisis-{MODEL_VERSION}-{fingerprint}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return CrisisModel(classifier_from(z))
        except (OSError, ValueError, KeyError):
            log.warning("cached crisis model %s unreadable; training again", path)
    labelled = rows()
    if not labelled:
        return None
    model = CrisisModel.train(labelled, calm_texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **classifier_arrays(model.classifier))
        os.replace(tmp, path)
    except OSError:
        log.info("could not cache the crisis model at %s", path)
    return model
