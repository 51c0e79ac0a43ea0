from seldon_core.storage import Storage  # noqa: F401 (not in the stand-in)


class SeldonStorage(object):
    def predict(self, X, names):
        return X
