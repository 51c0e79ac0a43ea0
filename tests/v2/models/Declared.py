"""Declares one input x: FP32 [-1, 4]; answers the row sums as a [N, 1] FP32 tensor."""

import numpy as np


class Declared(object):
    def init_metadata(self):
        return {
            "name": "declared",
            "versions": ["v1"],
            "platform": "test-platform",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
            "outputs": [{"name": "sums", "datatype": "FP32", "shape": [-1, 1]}],
        }

    def predict(self, X, features_names, meta=None):
        return np.asarray(X, dtype=np.float32).sum(axis=1, keepdims=True)
