"""The batching benchmark's model (bench/batching.py): a small PyTorch MLP whose cost is mostly
per call, served unchanged by modelkiln (a Seldon-style class) and by MLServer (through
mlserver_torch.py, beside it).

64 FP32 inputs -> DEPTH hidden layers of WIDTH (Linear + ReLU) -> 8 outputs, fixed weights
(seed 0). Narrow and deep, so that most of a call is torch's dispatch of its 129 modules, not
their arithmetic: 32 rows cost less than twice one row (about 1.4 against 0.8 ms on the 2-core
machine), as a GPU model's call costs about the same for 1 or 32 rows.

Environment: ``BENCH_DEVICE`` (``cpu``, the default, or ``cuda``; read in ``__init__``) and
``BENCH_TORCH_THREADS`` (torch's intra-op threads, default 1: on a 2-core machine the server's
HTTP side and the load generator need the other core; set in ``load()``).
"""

import os

import torch

INPUTS, WIDTH, DEPTH, OUTPUTS = 64, 128, 64, 8


def build() -> torch.nn.Module:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(INPUTS, WIDTH), torch.nn.ReLU()]
    for _ in range(DEPTH - 1):
        layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(WIDTH, OUTPUTS))
    return torch.nn.Sequential(*layers).eval()


class TorchMLP(object):
    def __init__(self):
        self.device = torch.device(os.environ.get("BENCH_DEVICE", "cpu"))
        self.net = build().to(self.device)

    def load(self):
        # Here, not in __init__: with torch's OpenMP the thread count holds for the thread that
        # sets it, and a server may call the model from another thread than the one that built
        # it (modelkiln's batching thread, which runs load()). Set in __init__ only, a call on
        # another thread uses an OpenMP team of every core, whose spinning made one call of
        # this model 10-50x slower on 2 cores.
        torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "1")))

    def init_metadata(self):
        # bench/gpu.py: which worker this is and where its tensors are (Seldon's /metadata)
        return {"custom": {"pid": str(os.getpid()), "torch_device": str(self.device)}}

    def predict(self, X, features_names=None):
        with torch.inference_mode():
            X = torch.as_tensor(X, dtype=torch.float32).to(self.device)
            return self.net(X).cpu().numpy()
