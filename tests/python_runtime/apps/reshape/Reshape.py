"""Answers its rows folded four values wide: 50 rows of 4 for 100 rows of 2 (a batch job
must refuse such an answer, not reshape it back)."""

import numpy as np


class Reshape(object):
    def predict(self, X, features_names, meta=None):
        return np.asarray(X).reshape(-1, 4)
