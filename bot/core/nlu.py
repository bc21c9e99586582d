"""Built-in intent classifier and language detector, trained from the Rasa NLU files.

Features: TF-IDF over word unigrams/bigrams and character 3-5-grams inside words, each feature kept as its
CRC-32 (a sorted uint32 array instead of a dict of strings: a few MB instead of tens; collisions are rare).
Model: multinomial logistic regression trained by seeded SGD (deterministic), cached on disk, weights in float16;
the intent classifier blends it with the nearest training example per class (bot/core/neighbours.py).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import random
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.neighbours import ExampleIndex
from bot.core.text import normalize

log = logging.getLogger(__name__)

MODEL_VERSION = "4"
SYSTEM_INTENTS = (
    "greet",
    "goodbye",
    "thanks",
    "help",
    "out_of_scope",
    "human",
    "not_helpful",
    "quiz",
    "helplines",
)
NEIGHBOUR_WEIGHT = 0.3  # P = 0.7 * linear model + 0.3 * softmax(best example similarity / 0.05) (dev sets)
NEIGHBOUR_TEMPERATURE = 0.05
THRESHOLD = 0.45  # below: not sure, offer candidates
MARGIN = 0.15  # top two closer than this: ambiguous, offer both


@functools.lru_cache(maxsize=2048)
def features(norm: str) -> tuple[str, ...]:
    """Word unigrams and bigrams and character 3-5-grams inside words (cached: the intent classifier and the
    crisis detector read the same message)."""
    return tuple(_features(norm))


@functools.lru_cache(maxsize=2048)
def feature_keys(norm: str) -> np.ndarray:
    """The features as stable 32-bit keys (CRC-32; Python's own hash differs per process). Read-only."""
    feats = features(norm)
    keys = np.fromiter((zlib.crc32(f.encode()) for f in feats), dtype=np.uint32, count=len(feats))
    keys.flags.writeable = False
    return keys


def _features(norm: str) -> list[str]:
    words = norm.split()
    feats = [f"w:{w}" for w in words]
    feats += [f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    for w in words:
        padded = f" {w} "
        for n in (3, 4, 5):
            feats += [f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1)]
    return feats


@dataclass(frozen=True)
class Prediction:
    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]  # best first

    @property
    def ambiguous(self) -> bool:
        return len(self.ranking) > 1 and self.ranking[0][1] - self.ranking[1][1] < MARGIN

    @property
    def confident(self) -> bool:
        return self.confidence >= THRESHOLD and not self.ambiguous


class IntentClassifier:
    def __init__(
        self,
        keys: np.ndarray,
        idf: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        classes: list[str],
        neighbours: ExampleIndex | None = None,
    ):
        self.keys = keys  # sorted feature keys; row i of idf and weights belongs to keys[i]
        self.idf = idf
        self.weights = weights
        self.bias = bias
        self.classes = classes
        self.neighbours = neighbours  # when set, P blends the linear model with the nearest examples
        self.sure: tuple[int, float] | None = None  # (class, p): the linear model this sure of it needs no blend
        # the crisis detector asks about the same message up to three times (alone, topic, warm fallback)
        self.probabilities = functools.lru_cache(maxsize=256)(self._probabilities)

    def _vector(self, norm: str) -> tuple[np.ndarray, np.ndarray]:
        found = feature_keys(norm)
        pos = np.minimum(np.searchsorted(self.keys, found), len(self.keys) - 1)
        ids = pos[self.keys[pos] == found]
        if ids.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx, counts = np.unique(ids, return_counts=True)
        vals = (1.0 + np.log(counts.astype(np.float32))) * self.idf[idx]
        return idx, vals / np.linalg.norm(vals)

    def _probabilities(self, text: str) -> np.ndarray | None:
        """P(class) for every class, in `classes` order (read-only); None when no feature of the text is known."""
        idx, vals = self._vector(normalize(text))
        if idx.size == 0:
            return None
        logits = vals @ self.weights[idx].astype(np.float32) + self.bias
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        if self.neighbours is not None and not (self.sure and probs[self.sure[0]] >= self.sure[1]):
            best = self.neighbours.best(idx, vals)
            near = np.exp((best - best.max()) / NEIGHBOUR_TEMPERATURE)
            probs = (1 - NEIGHBOUR_WEIGHT) * probs + NEIGHBOUR_WEIGHT * near / near.sum()
        probs.flags.writeable = False
        return probs

    def predict(self, text: str, top: int = 3) -> Prediction:
        probs = self.probabilities(text)
        if probs is None:
            return Prediction("out_of_scope", 0.0, (("out_of_scope", 0.0),))
        order = np.argsort(-probs)[:top]
        ranking = tuple((self.classes[i], float(probs[i])) for i in order)
        return Prediction(ranking[0][0], ranking[0][1], ranking)

    @classmethod
    def train(cls, rows: list[tuple[str, str]], epochs: int = 12, seed: int = 7, neighbours: bool = False) -> IntentClassifier:
        """Seeded SGD on the examples; `neighbours` also indexes them for the nearest-example blend."""
        classes = sorted({intent for _, intent in rows})
        cls_index = {c: i for i, c in enumerate(classes)}
        docs = [Counter(feature_keys(normalize(text)).tolist()) for text, _ in rows]
        df: Counter[int] = Counter()
        for doc in docs:
            df.update(doc.keys())
        keys = sorted(df)
        vocab = {k: i for i, k in enumerate(keys)}
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[k])) + 1.0 for k in keys], dtype=np.float32)
        w = np.zeros((len(keys), len(classes)), np.float32)
        b = np.zeros(len(classes), np.float32)
        data = []
        for doc, (_, intent) in zip(docs, rows, strict=True):
            idx = np.fromiter((vocab[k] for k in doc), dtype=np.int64, count=len(doc))
            tf = np.fromiter((1.0 + math.log(c) for c in doc.values()), dtype=np.float32, count=len(doc))
            vals = tf * idf[idx]
            data.append((idx, vals / np.linalg.norm(vals), cls_index[intent]))
        rng = random.Random(seed)
        order = list(range(n))
        step = 0
        for _ in range(epochs):
            rng.shuffle(order)
            for i in order:
                idx, vals, y = data[i]
                lr = 1.0 / (1.0 + 0.0001 * step)
                step += 1
                logits = vals @ w[idx] + b
                p = np.exp(logits - logits.max())
                p /= p.sum()
                p[y] -= 1.0
                w[idx] -= lr * np.outer(vals, p)
                b -= lr * 0.1 * p
        index = ExampleIndex.build([(i, v) for i, v, _ in data], [y for _, _, y in data], idf) if neighbours else None
        return cls(np.array(keys, dtype=np.uint32), idf, w.astype(np.float16), b, classes, index)


class LanguageDetector:
    """Naive Bayes over character 1-4-grams, trained on the per-language NLU examples."""

    def __init__(self, langs: list[str], vocab: list[str], logp: np.ndarray):
        self.langs = langs
        self.vocab = vocab
        self.index = {g: i for i, g in enumerate(vocab)}
        self.logp = logp  # one row per gram plus a last row for unseen grams; one column per language

    @classmethod
    def train(cls, rows: dict[str, list[str]]) -> LanguageDetector:
        langs = sorted(rows)
        counts = {lang: Counter(g for text in rows[lang] for g in cls._grams(normalize(text))) for lang in langs}
        vocab = sorted(set().union(*counts.values()))
        logp = np.zeros((len(vocab) + 1, len(langs)), dtype=np.float64)
        for j, lang in enumerate(langs):
            total = sum(counts[lang].values()) + len(counts[lang]) + 1
            column = np.fromiter((counts[lang].get(g, 0) for g in vocab), dtype=np.float64, count=len(vocab))
            logp[:-1, j] = np.log((column + 1) / total)
            logp[-1, j] = math.log(1 / total)
        return cls(langs, vocab, logp)

    @staticmethod
    def _grams(norm: str) -> list[str]:
        grams = []
        for w in norm.split():
            padded = f" {w} "
            for n in (1, 2, 3, 4):
                grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
        return grams

    def detect(self, text: str) -> tuple[str | None, float]:
        """Best language and its margin per gram over the runner-up (0 when unknown)."""
        grams = self._grams(normalize(text))
        if not grams:
            return None, 0.0
        unseen = len(self.index)
        scores = self.logp[[self.index.get(g, unseen) for g in grams]].sum(axis=0)
        order = np.argsort(-scores)
        margin = float(scores[order[0]] - scores[order[1]]) / len(grams)
        return self.langs[int(order[0])], margin


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "influbot"


def classifier_arrays(model: IntentClassifier) -> dict[str, np.ndarray]:
    """A classifier as named arrays, for np.savez."""
    return {
        "idf": model.idf,
        "weights": model.weights,
        "bias": model.bias,
        "classes": np.array(model.classes),
        "keys": model.keys,
        **(model.neighbours.arrays() if model.neighbours else {}),
    }


def classifier_from(z: Any) -> IntentClassifier:
    return IntentClassifier(z["keys"], z["idf"], z["weights"], z["bias"], z["classes"].tolist(), ExampleIndex.from_arrays(z))


def save_models(path: Path, model: IntentClassifier, detector: LanguageDetector) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        **classifier_arrays(model),
        langs=np.array(detector.langs),
        lang_vocab=np.array(detector.vocab),
        lang_logp=detector.logp,
    )
    os.replace(tmp, path)


def read_models(path: Path) -> tuple[IntentClassifier, LanguageDetector]:
    with np.load(path, allow_pickle=False) as z:
        return classifier_from(z), LanguageDetector(z["langs"].tolist(), z["lang_vocab"].tolist(), z["lang_logp"])


def load_models(training: dict[str, list[tuple[str, str]]], fingerprint: str) -> tuple[IntentClassifier, LanguageDetector]:
    """The trained models for this content fingerprint, trained and cached on first use."""
    path = cache_dir() / f"nlu-{MODEL_VERSION}-{fingerprint}.npz"
    if path.exists():
        try:
            return read_models(path)
        except (OSError, ValueError, KeyError):
            log.warning("cached model %s unreadable; training again", path)
    model = IntentClassifier.train([row for rows in training.values() for row in rows], neighbours=True)
    detector = LanguageDetector.train({lang: [text for text, _ in rows] for lang, rows in training.items()})
    try:
        save_models(path, model, detector)
    except OSError:
        log.info("could not cache the models at %s", path)
    return model, detector
