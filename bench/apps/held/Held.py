"""bench/refusal.py's model: a request whose first value is 1 is held until the server stops,
so that a queue limit of 1 refuses every request after it; any other returns after 5 ms (a
call that waits rather than computes, so the worker's loop does not wait for calls)."""

import time


class Held(object):
    def predict(self, X, features_names=None, meta=None):
        time.sleep(3600 if X[0][0] == 1 else 0.005)
        return X
