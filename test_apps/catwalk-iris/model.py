"""Scores an iris flower with fixed weights (no training, no files): a catwalk model as catwalk
documents them, a class Model with __init__(path), load_test_data(path) and predict(X)."""

import numpy as np

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
LABELS = ("setosa", "versicolor", "virginica")
WEIGHTS = np.array([[0.5, -0.25, -1.0, -1.0],
                    [0.0, -0.5, 0.5, -0.25],
                    [-0.5, -0.5, 0.75, 1.0]])


class Model(object):
    def __init__(self, path="."):
        self.path = path

    def load_test_data(self, path="."):
        features = [{"sepal_length": 5.0, "sepal_width": 3.5, "petal_length": 1.5,
                     "petal_width": 0.25}]
        return features, [{"scores": [-0.125, -1.0625, -2.875], "label": "setosa"}]

    def predict(self, X):
        row = np.array([float(X[name]) for name in FEATURES])
        scores = WEIGHTS.dot(row)
        return {"scores": [float(s) for s in scores], "label": LABELS[int(np.argmax(scores))]}
