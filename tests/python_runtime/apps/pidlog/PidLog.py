"""Appends "init <pid>" in __init__ and "load <pid>" in load() to the file it is given."""

import os


class PidLog(object):
    def __init__(self, log_path=""):
        self.log_path = log_path
        self._append("init")

    def _append(self, what):
        with open(self.log_path, "a") as handle:
            handle.write("%s %d\n" % (what, os.getpid()))

    def load(self):
        self._append("load")

    def predict(self, X, features_names):
        return [[os.getpid()]]
