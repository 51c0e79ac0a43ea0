"""Echoes X, except that a negative first value makes predict() write its worker's pid to the
file it is given and then sleep ``seconds``: a stuck call whose worker a test can find."""

import os
import time

import numpy as np


class Stall(object):
    def __init__(self, pid_path="", seconds=30.0):
        self.pid_path = pid_path
        self.seconds = seconds

    def predict(self, X, features_names):
        X = np.asarray(X)
        if X.size and X.flat[0] < 0:
            with open(self.pid_path, "a") as handle:
                handle.write("%d\n" % os.getpid())
            time.sleep(self.seconds)
        return X
