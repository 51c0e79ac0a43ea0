"""Answers with its worker's pid and the CUDA_VISIBLE_DEVICES it saw when it was constructed
and sees now (MODELKILN_GPUS_PER_WORKER sets it after the fork, before __init__)."""

import os


class Devices(object):
    def __init__(self):
        self.at_init = os.environ.get("CUDA_VISIBLE_DEVICES")

    def predict_raw(self, request):
        return {"jsonData": {"pid": os.getpid(), "at_init": self.at_init,
                             "now": os.environ.get("CUDA_VISIBLE_DEVICES")}}
