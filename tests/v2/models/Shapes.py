"""Answers a str, bytes or dict depending on the first element of X (a BYTES or number input).

"str" -> a str, "bytes" -> non-UTF-8 bytes, "utf8bytes" -> UTF-8 bytes, "dict" -> a dict,
"list" -> a nested list, "bigendian" -> a big-endian FP64 array, "complex" -> a complex array,
"none" -> None, anything else -> X.
"""

import numpy as np


class Shapes(object):
    def predict(self, X, features_names, meta=None):
        first = X.ravel()[0] if getattr(X, "size", 0) else None
        if isinstance(first, bytes):
            first = first.decode("utf-8")
        if first == "str":
            return "héllo wörld"
        if first == "bytes":
            return b"\x00\xff\xfe raw"
        if first == "utf8bytes":
            return "ünïcode".encode("utf-8")
        if first == "dict":
            return {"answer": 42, "names": list(features_names), "nested": {"x": [1.5, None]}}
        if first == "list":
            return [[1, 2], [3, 4]]
        if first == "bigendian":
            return np.array([[1.5, -2.25]], dtype=">f8")
        if first == "complex":
            return np.array([1 + 2j])
        if first == "none":
            return None
        return X
