import numpy as np


class Combiner:
    """Averages the arrays of all incoming messages."""

    def aggregate(self, Xs, features_names):
        return np.mean([np.asarray(x, dtype=float) for x in Xs], axis=0)
