"""A ROUTER: branch 1 when the first value is positive, else branch 0."""


class Router(object):
    def route(self, X, features_names):
        return 1 if float(X.ravel()[0]) > 0 else 0
