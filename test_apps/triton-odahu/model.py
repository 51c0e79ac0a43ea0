"""A linear model whose weights are in weights.json beside this file (ODAHU copies data files
next to the model): quality = features . weights + bias, one value per row."""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.json")) as f:
            saved = json.load(f)
        self.weights = np.array(saved["weights"], dtype=np.float64)
        self.bias = float(saved["bias"])

    def execute(self, requests):
        responses = []
        for request in requests:
            features = pb_utils.get_input_tensor_by_name(request, "features").as_numpy()
            quality = features @ self.weights + self.bias
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("quality", quality.astype(np.float64))]))
        return responses

    def finalize(self):
        pass
