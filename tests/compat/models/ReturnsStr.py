class ReturnsStr:
    """Returns a str: answered as strData."""

    def predict(self, X, features_names):
        return "label:" + type(X).__name__
