"""Echoes its input and the Python type of each field, as the model received them."""


class Model(object):
    def __init__(self, path="."):
        self.path = path

    def load_test_data(self, path="."):
        features = [{"text": "a", "flag": True, "count": 1, "ratio": None, "tags": [],
                     "point": {"x": 1.5, "label": None}}]
        return features, [self.predict(x) for x in features]

    def predict(self, X):
        return {"received": X, "types": {key: type(value).__name__ for key, value in X.items()}}
