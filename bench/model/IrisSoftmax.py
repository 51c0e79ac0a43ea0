"""The benchmark's user model: 4 inputs -> 3 softmax outputs, plain numpy.

The same file is served by modelkiln, by seldon-core and (imported directly)
by the bare WSGI ceiling in bench/bare_wsgi.py, so all three do the same math.
"""
import numpy as np


class IrisSoftmax:
    # A fixed 4x3 weight matrix and bias (iris-like: sepal/petal length/width -> 3 classes).
    W = np.array(
        [
            [0.42, 0.10, -0.55],
            [0.95, -0.30, -0.70],
            [-1.20, 0.15, 1.05],
            [-0.60, -0.25, 0.90],
        ]
    )
    b = np.array([0.30, 0.80, -1.10])

    def predict(self, X, features_names=None):
        z = np.asarray(X, dtype=np.float64) @ self.W + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
