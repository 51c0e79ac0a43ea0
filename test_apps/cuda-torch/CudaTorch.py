"""A PyTorch model written for a GPU that also runs where there is none: it takes the GPU when
CUDA has one and says so, else the CPU. Fixed weights (y = 2 * x0 - x1 + 0.5), so the answer is
the same on either device. The image tests build it with the CUDA builders on a machine
without a GPU (tests/images/test_cuda.py)."""

import logging

import torch

log = logging.getLogger(__name__)


class CudaTorch(object):
    def __init__(self):
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        log.info("CudaTorch: PyTorch %s (CUDA build %s) on %s", torch.__version__,
                 torch.version.cuda, self.device)
        self.net = torch.nn.Linear(2, 1).to(self.device)
        with torch.no_grad():
            self.net.weight.copy_(torch.tensor([[2.0, -1.0]]))
            self.net.bias.fill_(0.5)

    def predict(self, X, features_names=None):
        with torch.no_grad():
            rows = torch.as_tensor(X, dtype=torch.float32, device=self.device)
            return self.net(rows).cpu().numpy()

    def tags(self):
        return {"device": str(self.device)}
