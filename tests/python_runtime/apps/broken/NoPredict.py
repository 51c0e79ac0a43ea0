"""A transformer served as SERVICE_TYPE=MODEL: it has no predict()."""


class NoPredict(object):
    def transform_input(self, X, features_names):
        return X
