"""``seldon_core.flask_utils.SeldonMicroserviceException`` for user code: raise it to answer
with a status code (400 unless given), a reason and a message."""


class SeldonMicroserviceException(Exception):
    status_code = 400

    def __init__(self, message, status_code=None, payload=None,
                 reason="MICROSERVICE_BAD_DATA"):
        Exception.__init__(self)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.payload = payload
        self.reason = reason

    def to_dict(self):
        """The error body Seldon answers: the status block only (``payload`` is kept on the
        exception but, as in Seldon, not sent)."""
        return {"status": {"status": 1, "info": self.message, "code": -1,
                           "reason": self.reason}}
