"""Returns every input row twice, numbered, with the number of rows it was given."""
import pandas as pd


class Model(object):
    def __init__(self, path="."):
        self.path = path

    def load_test_data(self, path="."):
        features = pd.DataFrame.from_dict([{"a": 1.5, "b": "x"}])
        return features, self.predict(features)

    def predict(self, X):
        out = pd.concat([X, X], ignore_index=True)
        out["row"] = range(len(out))
        out["rows_in"] = len(X)
        return out
