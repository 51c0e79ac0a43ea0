class QuotaError(Exception):
    status_code = 429

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def to_dict(self):
        return {"status": {"status": 1, "info": self.message, "code": 4290, "reason": "USER_QUOTA"}}


class CustomErrorNoHandler:
    """Raises an exception carrying status_code / to_dict, without registering a handler."""

    def predict(self, X, features_names):
        raise QuotaError("quota exceeded")
