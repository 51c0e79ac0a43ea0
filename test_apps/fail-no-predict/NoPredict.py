"""Implements a transformer method but not predict, yet SERVICE_TYPE is MODEL."""


class NoPredict(object):
    def transform_input(self, X, features_names=None):
        return X
