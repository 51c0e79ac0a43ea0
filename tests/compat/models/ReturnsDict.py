import numpy as np


class ReturnsDict:
    """Returns a dict: answered as jsonData."""

    def predict(self, X, features_names):
        if isinstance(X, dict):
            return {"keys": sorted(X), "n": len(X)}
        if isinstance(X, (str, bytes)):
            return {"kind": type(X).__name__, "length": len(X)}
        arr = np.asarray(X)
        return {"names": list(features_names), "sum": float(arr.sum()), "shape": list(arr.shape)}
