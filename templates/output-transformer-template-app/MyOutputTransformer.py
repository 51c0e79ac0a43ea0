"""A starter OUTPUT_TRANSFORMER: replace the body of transform_output() with your own.

An output transformer sits after a model and rewrites each answer before it goes back to the
client (thresholds, label lookups, formatting). modelkiln calls transform_output() for each
message posted to /transform-output.

This example turns a model's class probabilities into a decision: for every row, the index of
the most likely class and its probability, e.g. ``[0.1, 0.2, 0.7]`` -> ``[2, 0.7]``.
"""

import numpy as np


class BadRequest(Exception):
    """Raise this for input the transformer cannot use: the client gets a 400 with the
    message (any exception with an integer ``status_code`` works; anything else is a 500)."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class MyOutputTransformer(object):
    def transform_output(self, X, features_names=None):
        """REPLACE with your transformation of the model's output.

        X is the model's answer as a numpy array, one row per instance (from ``data.ndarray``
        or ``data.tensor``); features_names is its ``data.names`` (the model's class names).

        Returning nested lists keeps each value's JSON type in an ndarray answer: here the
        class index stays an integer (``[[2, 0.7]]``). In a tensor answer every value is a
        number of one type, so it reads ``[2.0, 0.7]``.
        """
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] == 0 or X.dtype.kind not in "iuf":
            raise BadRequest("expected rows of class probabilities (numbers), got an array "
                             "of shape %s" % list(X.shape))
        best = X.argmax(axis=1)
        return [[int(i), float(row[i])] for i, row in zip(best, X)]

    def class_names(self):
        """Names of the columns transform_output() returns (data.names in the answer);
        default t:0, t:1, ..."""
        return ["class_index", "probability"]
