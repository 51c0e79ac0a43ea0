"""Routes to branch 1 when the first feature of the first row reaches the threshold, else 0."""


class ThresholdRouter(object):
    def __init__(self, threshold=0.5):
        self.threshold = float(threshold)

    def route(self, X, features_names=None):
        return 1 if float(X[0][0]) >= self.threshold else 0
