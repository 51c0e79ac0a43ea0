"""Counts its predict() calls: answers [[pid, count]], the worker's pid and this object's count.

One object per worker serves REST and gRPC alike, so the counts a worker answers, whatever the
protocol, are one sequence 1, 2, 3, ...
"""

import os
import threading


class Counter(object):
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    def predict(self, X, features_names):
        with self.lock:
            self.count += 1
            return [[os.getpid(), self.count]]
