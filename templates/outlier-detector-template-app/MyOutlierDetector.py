"""A starter OUTLIER_DETECTOR: replace the statistics in load() and the body of score().

An outlier detector sits in front of a model and flags unusual requests without changing them.
modelkiln calls score() for each request to /transform-input, passes the request on unchanged
and adds one score per row to the answer's ``meta.tags.outlierScore``; whoever reads the
answer (or the request logs) decides what counts as an outlier.

This example scores each row of iris measurements by its largest absolute z-score,
``max(|x - mean| / std)`` over the columns, with the training set's means and standard
deviations: about 1 for a typical flower, 3 or more for a very unusual one.
"""

import numpy as np

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class BadRequest(Exception):
    """Raise this for input the detector cannot use: the client gets a 400 with the message
    (any exception with an integer ``status_code`` works; anything else becomes a 500)."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class MyOutlierDetector(object):
    def __init__(self):
        self.means = None
        self.stds = None

    def load(self):
        """REPLACE with your own detector (a fitted isolation forest, an autoencoder, ...).

        Runs once in every worker after the server starts; /ready answers 503 until it
        returns.
        """
        # e.g. self.detector = joblib.load("detector.joblib")
        self.means = np.array([5.8, 3.0, 3.8, 1.2])
        self.stds = np.array([0.8, 0.4, 1.8, 0.8])

    def score(self, X, features_names=None):
        """REPLACE with your scoring. Return one number per row, higher meaning more unusual.

        X is a numpy array, one row per instance (from ``data.ndarray`` or ``data.tensor``);
        features_names is the request's ``data.names`` (may be empty). The scores go to
        meta.tags.outlierScore as a list; the request's data is passed on as it is.
        """
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or X.dtype.kind not in "iuf":
            raise BadRequest("expected rows of %d numbers (%s), got an array of shape %s"
                             % (len(FEATURES), ", ".join(FEATURES), list(X.shape)))
        return np.abs((X - self.means) / self.stds).max(axis=1)
