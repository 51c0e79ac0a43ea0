class HealthMeta:
    """Custom health_status and init_metadata."""

    def predict(self, X, features_names):
        return X

    def health_status(self):
        return {"healthy": True, "queue": 0}

    def init_metadata(self):
        return {
            "name": "health-meta",
            "versions": ["v7"],
            "platform": "custom",
            "inputs": [{"messagetype": "tensor", "schema": {"names": ["a", "b"], "shape": [2]}}],
            "outputs": [{"messagetype": "tensor", "schema": {"shape": [1]}}],
            "custom": {"author": "compat-suite"},
        }
