"""A model whose cost is per call (MODELKILN_TEST_CALL_COST seconds), for adaptive batching:
it answers X * 2 + 1 row by row, raises for a row holding -1, and reports the size of each call
it got in the answer's tags (rows of this call, and the calls so far)."""

import os
import time

import numpy as np

COST = float(os.environ.get("MODELKILN_TEST_CALL_COST", "0.02"))


class Batched(object):
    def __init__(self):
        self.calls = []

    def predict(self, X, features_names=None, meta=None):
        X = np.asarray(X)
        self.calls.append(int(X.shape[0]))
        time.sleep(COST)
        if X.dtype.kind in "iuf" and (X == -1).any():
            raise ValueError("a row holds -1")
        if X.dtype.kind in "US":
            return np.char.upper(X)
        return X * 2 + 1

    def tags(self):
        return {"call_rows": self.calls[-1], "calls": len(self.calls)}
