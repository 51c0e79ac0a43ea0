"""A starter MODEL: replace the weights in load() and the body of predict() with your own.

modelkiln imports the class named by MODEL_NAME in .s2i/environment (here ``MyModel``: file
MyModel.py, class MyModel), constructs it once, calls load() in every worker, then calls
predict() for each request to /predict, /api/v1.0/predictions or /api/v0.1/predictions.

This example is a tiny linear classifier for the iris flowers: four measurements in, three
class probabilities out (a softmax over ``X @ weights``). The weights are made up; load your
trained model instead.
"""

import numpy as np

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class BadRequest(Exception):
    """Raise this for input the model cannot use: the client gets a 400 with the message
    (any exception with an integer ``status_code`` works; anything else becomes a 500)."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class MyModel(object):
    def __init__(self):
        # Keyword arguments here come from PREDICTIVE_UNIT_PARAMETERS (modelkiln's docs:
        # serving/index.md).
        # Keep __init__ cheap: heavy work belongs in load().
        self.weights = None

    def load(self):
        """Load weights, download artefacts, warm caches: REPLACE with your own loading.

        Runs once in every worker after the server starts; /ready and /health/status answer
        503 until it returns, so a slow load never serves half-initialised predictions.
        """
        # e.g. self.model = joblib.load("model.joblib")
        self.weights = np.array([[0.5, -0.2, 0.1],
                                 [0.3, 0.8, -0.5],
                                 [-0.6, 0.4, 0.9],
                                 [0.2, -0.7, 0.3]])

    def predict(self, X, features_names=None):
        """REPLACE with your model's prediction.

        X is a numpy array, one row per instance (from ``data.ndarray`` or ``data.tensor``);
        features_names is the request's ``data.names`` (may be empty). Return one row of
        scores per row: a numpy array or nested list keeps the request's data kind (tensor
        stays tensor), a str becomes strData, a dict jsonData, bytes binData.
        """
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or X.dtype.kind not in "iuf":
            raise BadRequest("expected rows of %d numbers (%s), got an array of shape %s"
                             % (len(FEATURES), ", ".join(FEATURES), list(X.shape)))
        logits = X.astype(float) @ self.weights
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def class_names(self):
        """Names of the output columns (data.names in the answer); default t:0, t:1, ..."""
        return ["setosa", "versicolor", "virginica"]

    def tags(self):
        """Merged into meta.tags of every answer: handy to see which model version answered."""
        return {"model_version": "0.1.0"}
