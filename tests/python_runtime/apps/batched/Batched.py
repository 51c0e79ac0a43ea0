"""A model whose cost is per call (MODELKILN_TEST_CALL_COST seconds), for adaptive batching:
it answers X * 2 + 1 row by row, raises for a row holding -1, and reports the size of each call
it got in the answer's tags (rows of this call, and the calls so far), and the most calls into
it (predict, tags) it has seen at once, which the model's lock keeps to 1."""

import os
import threading
import time

import numpy as np

COST = float(os.environ.get("MODELKILN_TEST_CALL_COST", "0.02"))


class Batched(object):
    def __init__(self):
        self.calls = []
        self.inside = 0  # calls into this object right now
        self.most_at_once = 0
        self.counting = threading.Lock()

    def _enter(self):
        with self.counting:
            self.inside += 1
            self.most_at_once = max(self.most_at_once, self.inside)

    def _leave(self):
        with self.counting:
            self.inside -= 1

    def predict(self, X, features_names=None, meta=None):
        self._enter()
        try:
            X = np.asarray(X)
            self.calls.append(int(X.shape[0]))
            time.sleep(COST)
            if X.dtype.kind in "iuf" and (X == -1).any():
                raise ValueError("a row holds -1")
            if X.dtype.kind in "US":
                return np.char.upper(X)
            return X * 2 + 1
        finally:
            self._leave()

    def tags(self):
        self._enter()
        try:
            time.sleep(COST / 5)
            return {"call_rows": self.calls[-1], "calls": len(self.calls),
                    "most_at_once": self.most_at_once}
        finally:
            self._leave()
