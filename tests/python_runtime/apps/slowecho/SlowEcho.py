"""Answers what it was sent, after ``seconds`` (a job that a test can kill halfway)."""

import time


class SlowEcho(object):
    def __init__(self, seconds=0.02):
        self.seconds = seconds

    def predict(self, X, features_names):
        time.sleep(self.seconds)
        return X
