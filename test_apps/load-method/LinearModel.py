"""A linear model whose weights are read from data/weights.json by load(), not __init__."""

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


class LinearModel(object):
    def __init__(self):
        self.weights = None
        self.bias = None
        self.version = None

    def load(self):
        with open(os.path.join(HERE, "data", "weights.json")) as handle:
            spec = json.load(handle)
        self.weights = np.array(spec["weights"], dtype=float)
        self.bias = float(spec["bias"])
        self.version = spec["version"]

    def predict(self, X, features_names=None):
        if self.weights is None:
            raise RuntimeError("predict() called before load()")
        return (np.asarray(X, dtype=float) @ self.weights + self.bias).reshape(-1, 1)

    def class_names(self):
        return ["score"]

    def tags(self):
        return {"weights_version": self.version}
