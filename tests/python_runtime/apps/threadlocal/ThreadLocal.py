"""load() sets thread-local state (as torch.set_grad_enabled does); predict() answers
[[whether it sees it, whether it runs on load()'s thread]]."""

import threading


class ThreadLocal(object):
    def __init__(self):
        self.local = threading.local()
        self.load_thread = None

    def load(self):
        self.local.configured = True
        self.load_thread = threading.get_ident()

    def predict(self, X, features_names):
        return [[int(getattr(self.local, "configured", False)),
                 int(threading.get_ident() == self.load_thread)]]
