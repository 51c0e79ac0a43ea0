"""bench/triton.py's batched model: OUTPUT0 = INPUT0 * 2 + 0.5, SUM = each row's sum of OUTPUT0
([rows, 1]). ``execute`` gets the requests the dynamic batcher gathered: their rows are
computed in one numpy call and split back, one response per request, in order."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        xs = [pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
              for request in requests]
        x = xs[0] if len(xs) == 1 else np.concatenate(xs)
        y = (x * np.float32(2) + np.float32(0.5)).astype(np.float32)
        total = y.sum(axis=1, keepdims=True)
        responses = []
        start = 0
        for part in xs:
            end = start + len(part)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", y[start:end]),
                pb_utils.Tensor("SUM", total[start:end])]))
            start = end
        return responses
