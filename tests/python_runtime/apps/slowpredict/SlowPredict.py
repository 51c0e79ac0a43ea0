"""predict() marks that it started, sleeps, then answers X * 10."""

import time

import numpy as np


class SlowPredict(object):
    def __init__(self, started_path="", seconds=2.0):
        self.started_path = started_path
        self.seconds = seconds

    def predict(self, X, features_names):
        with open(self.started_path, "a") as handle:
            handle.write("started\n")
        time.sleep(self.seconds)
        return np.asarray(X) * 10
