"""BYTES in, BYTES and INT32 out: each text upper-cased, and its length in bytes. A request
holding "fail" is answered with an error response; "raise" makes execute raise."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]

    def execute(self, requests):
        responses = []
        for request in requests:
            texts = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
            values = [t for t in texts.ravel()]
            if b"raise" in values:
                raise pb_utils.TritonModelException("asked to raise")
            if b"fail" in values:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError("cannot upper-case 'fail'")))
                continue
            upper = np.array([t.upper() for t in values], dtype=np.object_).reshape(texts.shape)
            length = np.array([len(t) for t in values], dtype=np.int32).reshape(texts.shape)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("UPPER", upper), pb_utils.Tensor("LENGTH", length)]))
        return responses
