"""An OUTLIER_DETECTOR: the score of a row is the sum of its absolute values."""

import numpy as np


class Outlier(object):
    def score(self, X, features_names):
        X = np.asarray(X, dtype=np.float64)
        return np.abs(X).reshape(X.shape[0], -1).sum(axis=1)
