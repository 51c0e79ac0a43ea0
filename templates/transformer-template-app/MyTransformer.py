"""A starter TRANSFORMER: replace the statistics in load() and the body of transform_input().

An input transformer sits in front of a model and rewrites each request before the model sees
it (feature scaling, encoding, lookups). modelkiln calls transform_input() for each request to
/transform-input and answers with the transformed message, in the same data kind as the
request (ndarray stays ndarray, tensor stays tensor).

This example standardises the four iris measurements: each column becomes
``(x - mean) / std``, with the training set's means and standard deviations.
"""

import numpy as np

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class BadRequest(Exception):
    """Raise this for input the transformer cannot use: the client gets a 400 with the
    message (any exception with an integer ``status_code`` works; anything else is a 500)."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class MyTransformer(object):
    def __init__(self):
        self.means = None
        self.stds = None

    def load(self):
        """REPLACE with your own fitted statistics (a scaler, vocabularies, lookup tables).

        Runs once in every worker after the server starts; /ready answers 503 until it
        returns.
        """
        # e.g. self.scaler = joblib.load("scaler.joblib")
        self.means = np.array([5.8, 3.0, 3.8, 1.2])
        self.stds = np.array([0.8, 0.4, 1.8, 0.8])

    def transform_input(self, X, features_names=None):
        """REPLACE with your transformation. Return the features the next step should get.

        X is a numpy array, one row per instance (from ``data.ndarray`` or ``data.tensor``);
        features_names is the request's ``data.names`` (may be empty).
        """
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or X.dtype.kind not in "iuf":
            raise BadRequest("expected rows of %d numbers (%s), got an array of shape %s"
                             % (len(FEATURES), ", ".join(FEATURES), list(X.shape)))
        return (X - self.means) / self.stds

    def feature_names(self):
        """Names of the columns transform_input() returns (data.names in the answer).

        Without it the answer's names are t:0, t:1, ... as in Seldon, whatever the request
        called its columns.
        """
        return FEATURES
