class ReturnsList:
    """Returns a plain Python list whatever the input."""

    def predict(self, X, features_names):
        return [[1, 2.5], [3, 4.0]]
