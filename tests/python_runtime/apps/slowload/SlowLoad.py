"""load() blocks until the test creates the gate file (or a minute passes)."""

import os
import time


class SlowLoad(object):
    def __init__(self, gate=""):
        self.gate = gate
        self.loaded = False

    def load(self):
        deadline = time.time() + 60
        while not os.path.exists(self.gate) and time.time() < deadline:
            time.sleep(0.05)
        self.loaded = True

    def predict(self, X, features_names):
        if not self.loaded:
            raise RuntimeError("predict() called before load() finished")
        return X
