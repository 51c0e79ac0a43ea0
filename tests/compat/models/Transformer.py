import numpy as np


class Transformer:
    """Input transformer adds 1, output transformer multiplies by 10."""

    @staticmethod
    def _numbers(X):
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf":
            raise TypeError("Transformer needs numbers, got %s (dtype kind %s)" % (type(X).__name__, arr.dtype.kind))
        return arr

    def transform_input(self, X, features_names):
        return self._numbers(X) + 1

    def transform_output(self, X, features_names):
        return self._numbers(X) * 10
