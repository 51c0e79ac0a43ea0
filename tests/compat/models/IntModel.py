import numpy as np


class IntModel:
    """Returns an int64 array whatever the input."""

    def predict(self, X, features_names):
        return np.array([[3, 1, 4], [1, 5, 9]], dtype=np.int64)
