class BadMetadata:
    """init_metadata returns something that does not validate."""

    def predict(self, X, features_names):
        return X

    def init_metadata(self):
        return {"name": "bad", "versions": "not-a-list", "inputs": "nope"}
