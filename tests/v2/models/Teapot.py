"""Raises an exception carrying status_code = 418."""


class TeapotError(Exception):
    status_code = 418

    def __init__(self, message):
        super(TeapotError, self).__init__(message)
        self.message = message


class Teapot(object):
    def predict(self, X, features_names, meta=None):
        raise TeapotError("I am a teapot, not a model")
