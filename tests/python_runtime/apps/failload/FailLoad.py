"""load() raises, ``failures`` times (every time by default), then works."""

import os


class FailLoad(object):
    def __init__(self, failures=-1, count_path=None):
        self.failures = int(failures)
        self.count_path = count_path  # attempts are counted here, across retries

    def load(self):
        attempts = 1
        if self.count_path:
            if os.path.exists(self.count_path):
                with open(self.count_path) as handle:
                    attempts = int(handle.read()) + 1
            with open(self.count_path, "w") as handle:
                handle.write(str(attempts))
        if self.failures < 0 or attempts <= self.failures:
            raise RuntimeError("cannot open weights: disk on fire")

    def predict(self, X, features_names):
        return X
