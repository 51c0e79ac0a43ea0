"""Its constructor raises."""


class CtorFails(object):
    def __init__(self, threshold=0):
        raise ValueError("threshold %r is out of range" % threshold)

    def predict(self, X, features_names):
        return X
