"""Texts in (BYTES), texts out: each upper-cased with the suffix read from suffix.txt beside
this file, its length in bytes, and the config's greeting parameter. A text "fail" gets an
InferenceResponse with an error."""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        auto_complete_model_config.add_input({"name": "TEXT", "data_type": "TYPE_STRING",
                                              "dims": [1]})
        auto_complete_model_config.add_output({"name": "SHOUT", "data_type": "TYPE_STRING",
                                               "dims": [1]})
        auto_complete_model_config.add_output({"name": "LENGTH", "data_type": "TYPE_INT32",
                                               "dims": [1]})
        return auto_complete_model_config

    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.greeting = config["parameters"]["greeting"]["string_value"].encode()
        with open(os.path.join(os.path.dirname(__file__), "suffix.txt"), "rb") as handle:
            self.suffix = handle.read().strip()
        self.name = args["model_name"]

    def execute(self, requests):
        responses = []
        for request in requests:
            texts = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
            values = list(texts.ravel())
            if b"fail" in values:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError("%s cannot shout 'fail'"
                                                                  % self.name)))
                continue
            shout = np.array([self.greeting + b" " + v.upper() + self.suffix for v in values],
                             dtype=np.object_).reshape(texts.shape)
            length = np.array([len(v) for v in values], dtype=np.int32).reshape(texts.shape)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("SHOUT", shout), pb_utils.Tensor("LENGTH", length)]))
        return responses
