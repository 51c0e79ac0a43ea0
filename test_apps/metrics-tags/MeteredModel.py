"""tags() and metrics() appear in every answer's meta; predict adds per-request tags too."""

import numpy as np


class Answer(object):
    """Duck-typed like Seldon's SeldonResponse: data plus per-request tags and metrics."""

    def __init__(self, data, tags=None, metrics=None):
        self.data = data
        self.tags = tags or {}
        self.metrics = metrics or []


class MeteredModel(object):
    def predict(self, X, features_names=None):
        X = np.asarray(X, dtype=float)
        return Answer(X + 1.0, tags={"rows": int(X.shape[0])})

    def tags(self):
        return {"model_version": "2.1", "team": "kiln"}

    def metrics(self):
        return [
            {"type": "COUNTER", "key": "kiln_requests_total", "value": 1},
            {"type": "GAUGE", "key": "kiln_temperature", "value": 1200.5},
            {"type": "TIMER", "key": "kiln_predict_ms", "value": 12.5,
             "tags": {"stage": "predict"}},
        ]
