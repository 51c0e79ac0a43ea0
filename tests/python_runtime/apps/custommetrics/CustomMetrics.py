"""Reports a COUNTER (1 per call), a GAUGE (the last X[0][0]) and a TIMER (7 ms) per call."""


class CustomMetrics(object):
    def __init__(self):
        self.last = 0.0

    def predict(self, X, features_names):
        self.last = float(X[0][0])
        return X

    def metrics(self):
        return [
            {"type": "COUNTER", "key": "mk_test_calls", "value": 1},
            {"type": "GAUGE", "key": "mk_test_last", "value": self.last},
            {"type": "TIMER", "key": "mk_test_timer", "value": 7.0},
        ]
