"""Rows of four FP32 values times a factor (FACTOR, else the one in factor.json), plus the
config's offset parameter; SUM is each row's sum as FP64."""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.offset = float(config["parameters"]["offset"]["string_value"])
        folder = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(folder, "factor.json")) as handle:
            self.factor = float(json.load(handle)["factor"])
        out = pb_utils.get_output_config_by_name(config, "OUTPUT0")
        self.out_dtype = pb_utils.triton_string_to_numpy(out["data_type"])
        self.args = {key: args[key] for key in args if key != "model_config"}

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            given = pb_utils.get_input_tensor_by_name(request, "FACTOR")
            factor = given.as_numpy() if given is not None else self.factor
            y = (x * factor + self.offset).astype(self.out_dtype)
            total = y.astype(np.float64).sum(axis=1, keepdims=True)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", y), pb_utils.Tensor("SUM", total)]))
        return responses
