"""Raises while being imported: the build's import check must report it with the traceback."""


def _load_weights():
    raise RuntimeError("weights file is corrupt (raised on purpose by this test app)")


WEIGHTS = _load_weights()


class BrokenModel(object):
    def predict(self, X, features_names=None):
        return X
