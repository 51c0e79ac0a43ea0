import numpy as np


class Outlier:
    """An outlier detector: score() gives one score per row."""

    def score(self, X, features_names):
        arr = np.asarray(X, dtype=float)
        return np.abs(arr).sum(axis=1)
