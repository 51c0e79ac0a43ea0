from flask import Blueprint, jsonify


class TeapotError(Exception):
    status_code = 418

    def __init__(self, message, application_error_code=1402):
        super().__init__(message)
        self.message = message
        self.application_error_code = application_error_code

    def to_dict(self):
        return {"status": {"status": 1, "info": self.message, "code": self.application_error_code, "reason": "USER_TEAPOT"}}


class CustomError:
    """Raises a user exception that a registered Flask error handler turns into a 418."""

    model_error_handler = Blueprint("error_handlers", __name__)

    @model_error_handler.app_errorhandler(TeapotError)
    def handle_teapot(error):
        response = jsonify(error.to_dict())
        response.status_code = error.status_code
        return response

    def predict(self, X, features_names):
        raise TeapotError("short and stout")
