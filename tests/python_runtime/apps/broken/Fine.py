"""A valid model, for settings errors."""


class Fine(object):
    def __init__(self, size=1):
        self.size = size

    def predict(self, X, features_names):
        return X
