import numpy as np


class OddReturns:
    """Returns awkward values, chosen by jsonData {"return": ...}."""

    def predict(self, X, features_names):
        kind = X.get("return") if isinstance(X, dict) else None
        if kind == "none":
            return None
        if kind == "int":
            return 42
        if kind == "float":
            return np.float64(1.5)
        if kind == "tuple":
            return (1, 2)
        if kind == "nan":
            return np.array([[np.nan, np.inf, 1.0]])
        if kind == "empty":
            return np.array([])
        if kind == "bool":
            return np.array([[True, False]])
        if kind == "mixed":
            return [[1, "a", None]]
        return {"unknown": kind}
