import numpy as np


def _kind(value):
    """What Python received: types and dtypes, nested (the numpy dtype string, not the
    numpy version's repr)."""
    if isinstance(value, np.ndarray):
        return {"ndarray": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, dict):
        return {"dict": {str(k): _kind(v) for k, v in sorted(value.items())}}
    if isinstance(value, list):
        return {"list": [_kind(v) for v in value]}
    return type(value).__name__


class TypeReport:
    """Answers (as jsonData) the Python types its methods were called with."""

    def predict(self, X, features_names, meta=None):
        names = None if features_names is None else [str(n) for n in features_names]
        return {"X": _kind(X), "names": names, "meta": _kind(meta)}

    def transform_input(self, X, features_names, meta=None):
        return self.predict(X, features_names, meta=meta)

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        return {"features": _kind(features), "names": [str(n) for n in feature_names],
                "reward": [type(reward).__name__, reward], "truth": _kind(truth),
                "routing": [type(routing).__name__, routing]}
