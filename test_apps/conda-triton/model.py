"""A Triton Python-backend model that reports the environment serving it: the conda
environment the build created from conda.yaml, with its own interpreter."""

import json
import os
import sys

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        with open(os.path.join(sys.prefix, "share", "kiln", "values.json")) as handle:
            version = json.load(handle)["version"]
        responses = []
        for request in requests:
            total = int(pb_utils.get_input_tensor_by_name(request, "X").as_numpy().sum())
            report = [str(total), version, sys.version.split()[0], sys.prefix]
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(
                "REPORT", np.array([r.encode() for r in report], dtype=np.object_))]))
        return responses
