"""load() raises: the server must stay up and report why it is not ready."""


class FailLoad(object):
    def load(self):
        raise RuntimeError("cannot open weights: disk on fire")

    def predict(self, X, features_names):
        return X
