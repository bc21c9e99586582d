"""Nearest training examples for the intent classifier: per class, the best cosine similarity of the message to
one of its examples, in the classifier's own TF-IDF space.

The linear model generalises over all the examples of an intent; the nearest example catches a wording that one
writer used and the model averaged away. `IntentClassifier` blends the two (weights calibrated on the dev sets).
An inverted index over the examples' informative features (the most common 1% of features, with the lowest idf,
are left out: they add time and blur the similarity) keeps a lookup well under a millisecond. numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_IDF_PERCENTILE = 1.0  # features rarer than the most common 1% are indexed
QUERY_FEATURES = 120


class ExampleIndex:
    def __init__(self, ptr: np.ndarray, docs: np.ndarray, vals: np.ndarray, order: np.ndarray, starts: np.ndarray):
        self.ptr = ptr  # postings of feature row i: docs[ptr[i]:ptr[i + 1]], vals[...]
        self.docs = docs
        self.vals = vals
        self.order = order  # example numbers sorted by class
        self.starts = starts  # where each class starts in `order`

    @classmethod
    def build(cls, vectors: list[tuple[np.ndarray, np.ndarray]], labels: list[int], idf: np.ndarray) -> ExampleIndex:
        """`vectors`: each example's (feature rows, normalized values); `labels`: its class number."""
        floor = float(np.percentile(idf, MIN_IDF_PERCENTILE))
        feats, docs, vals = [], [], []
        for d, (idx, v) in enumerate(vectors):
            keep = idf[idx] >= floor
            feats.append(idx[keep])
            vals.append(v[keep])
            docs.append(np.full(int(keep.sum()), d, dtype=np.int32))
        f = np.concatenate(feats)
        by_feature = np.argsort(f, kind="stable")
        ptr = np.searchsorted(f[by_feature], np.arange(len(idf) + 1)).astype(np.int64)
        labels_arr = np.array(labels, dtype=np.int32)
        order = np.argsort(labels_arr, kind="stable").astype(np.int32)
        starts = np.searchsorted(labels_arr[order], np.arange(labels_arr.max() + 1)).astype(np.int64)
        return cls(ptr, np.concatenate(docs)[by_feature], np.concatenate(vals)[by_feature].astype(np.float16), order, starts)

    def best(self, idx: np.ndarray, q: np.ndarray) -> np.ndarray:
        """For every class, the best cosine similarity of the query (feature rows, values) to one of its examples
        (over the query's QUERY_FEATURES weightiest features: a long message costs no more than a short one)."""
        if idx.size > QUERY_FEATURES:
            top = np.argpartition(-q, QUERY_FEATURES)[:QUERY_FEATURES]
            idx, q = idx[top], q[top]
        starts, ends = self.ptr[idx], self.ptr[idx + 1]
        lens = ends - starts
        total = int(lens.sum())
        sims = np.zeros(len(self.order), dtype=np.float32)
        if total:
            pos = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
            sims += np.bincount(self.docs[pos], weights=np.repeat(q, lens) * self.vals[pos], minlength=len(self.order))
        return np.maximum.reduceat(sims[self.order], self.starts)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"nn_ptr": self.ptr, "nn_docs": self.docs, "nn_vals": self.vals, "nn_order": self.order, "nn_starts": self.starts}

    @classmethod
    def from_arrays(cls, z: Any) -> ExampleIndex | None:
        if "nn_ptr" not in z:
            return None
        return cls(z["nn_ptr"], z["nn_docs"], z["nn_vals"], z["nn_order"], z["nn_starts"])
