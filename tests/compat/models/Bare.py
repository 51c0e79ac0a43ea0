class Bare:
    """Only predict: every other route shows the wrapper's defaults."""

    def predict(self, X, features_names):
        return X
