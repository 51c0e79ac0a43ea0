"""Hands every input back unchanged, so any 500 from the server is the server's fault.

A value that is not a valid answer type (None, a number, a bool from jsonData) is wrapped in
a dict, which is one.
"""

import numpy as np


def _same(X):
    if isinstance(X, (np.ndarray, list, dict, str, bytes)):
        return X
    return {"echo": X}


class FuzzEcho(object):
    def predict(self, X, features_names, meta=None):
        return _same(X)

    def transform_input(self, X, features_names, meta=None):
        return _same(X)

    def transform_output(self, X, features_names, meta=None):
        return _same(X)

    def route(self, X, features_names):
        return 0

    def aggregate(self, Xs, features_names_list):
        return _same(Xs[0])

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        return None
