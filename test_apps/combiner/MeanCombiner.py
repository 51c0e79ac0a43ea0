"""A combiner: the element-wise mean of its inputs' predictions."""

import numpy as np


class MeanCombiner(object):
    def aggregate(self, Xs, features_names=None):
        return np.mean([np.asarray(X, dtype=float) for X in Xs], axis=0)
