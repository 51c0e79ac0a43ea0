"""Echoes what it was sent; text containing "boom" makes it fail (a model error), and a
jsonData object with "refuse" makes it refuse the input as a client's mistake (status 400)."""


class Refused(Exception):
    status_code = 400

    def __init__(self, message):
        super(Refused, self).__init__(message)
        self.message = message


class FileJob(object):
    def predict(self, X, features_names=None):
        if isinstance(X, str) and "boom" in X:
            raise RuntimeError("the model broke on boom")
        if isinstance(X, dict) and "refuse" in X:
            raise Refused("this model does not take %r" % X["refuse"])
        return X
