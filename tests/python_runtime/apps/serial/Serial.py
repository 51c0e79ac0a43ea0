"""Detects concurrent calls into predict().

strict=True: raise when another call is already inside predict() (FLASK_SINGLE_THREADED must
prevent it). strict=False: wait (up to 20 s) for a second concurrent call, so a control run
shows that the same requests do overlap without the setting. The answer is the peak number of
calls seen inside predict() at once.
"""

import threading
import time


class Serial(object):
    def __init__(self, strict=True):
        self.strict = strict
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def predict(self, X, features_names):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            inside = self.active
        try:
            if self.strict:
                if inside > 1:
                    raise RuntimeError("concurrent call: %d calls inside predict()" % inside)
                time.sleep(0.1)
            else:
                deadline = time.time() + 20
                while self.peak < 2 and time.time() < deadline:
                    time.sleep(0.01)
            return [[self.peak]]
        finally:
            with self.lock:
                self.active -= 1
