"""A scikit-learn model fitted in __init__ (HistGradientBoosting fits and predicts with
OpenMP threads)."""

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


def fitted():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4000, 8))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    return HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)


class SklearnInit(object):
    def __init__(self):
        self.model = fitted()

    def predict(self, X, features_names):
        return self.model.predict_proba(np.asarray(X, dtype=float))
