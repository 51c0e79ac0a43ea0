"""bench/triton.py's model: OUTPUT0 = INPUT0 * 2 + 0.5, SUM = each row's sum of OUTPUT0."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            y = (x * np.float32(2) + np.float32(0.5)).astype(np.float32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", y), pb_utils.Tensor("SUM", y.sum(axis=1))]))
        return responses
