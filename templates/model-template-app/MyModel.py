"""A starter model: replace the body of predict() with your own.

modelkiln imports the class named by MODEL_NAME in .s2i/environment, constructs it once,
calls load() in every worker, then predict() for each request.
"""

import numpy as np


class MyModel(object):
    def __init__(self):
        self.weights = None

    def load(self):
        # Load weights, download artefacts, warm caches here: runs once per worker, and
        # /ready answers 503 until it returns.
        self.weights = np.array([[0.5, -0.2, 0.1],
                                 [0.3, 0.8, -0.5],
                                 [-0.6, 0.4, 0.9],
                                 [0.2, -0.7, 0.3]])

    def predict(self, X, features_names=None):
        """X is a numpy array (one row per instance); return one row of scores per row."""
        logits = np.asarray(X, dtype=float) @ self.weights
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def class_names(self):
        return ["setosa", "versicolor", "virginica"]
