"""Raises ValueError (a model error: 500)."""


class Fails(object):
    def predict(self, X, features_names, meta=None):
        raise ValueError("this model always fails: boom")
