"""A real torch model that computes in __init__ (which starts torch's OpenMP thread pool).
TORCHINIT_CALL_SECONDS (default 0) makes each call take that much longer, so that requests
sent together wait for the model and the adaptive batcher merges them."""

import os
import time

import torch

CALL_SECONDS = float(os.environ.get("TORCHINIT_CALL_SECONDS", "0"))


def build():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 3))


class TorchInit(object):
    def __init__(self):
        self.net = build()
        with torch.no_grad():
            self.net(torch.randn(2048, 64))  # a real forward pass, before any fork by default

    def load(self):
        torch.set_grad_enabled(False)  # thread-local: must hold on the thread predict runs on

    def predict(self, X, features_names):
        # .numpy() fails on a tensor that requires grad: this answers 500 unless load()'s
        # setting holds here
        if CALL_SECONDS:
            time.sleep(CALL_SECONDS)
        return self.net(torch.as_tensor(X, dtype=torch.float32)).numpy()
