class ReturnsBytes:
    """Returns bytes: answered as binData (base64)."""

    def predict(self, X, features_names):
        if isinstance(X, bytes):
            return X[::-1]
        return b"\x00\x01\xfeopaque"
