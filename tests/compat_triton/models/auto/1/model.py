"""A model whose configuration is completed by auto_complete_config: two INT64 inputs, their
sum and product."""

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        for spec in ({"name": "A", "data_type": "TYPE_INT64", "dims": [2]},
                     {"name": "B", "data_type": "TYPE_INT64", "dims": [2]}):
            auto_complete_model_config.add_input(spec)
        auto_complete_model_config.add_output({"name": "SUM", "data_type": "TYPE_INT64",
                                               "dims": [2]})
        auto_complete_model_config.add_output({"name": "PRODUCT", "data_type": "TYPE_INT64",
                                               "dims": [2]})
        auto_complete_model_config.set_max_batch_size(16)
        auto_complete_model_config.set_dynamic_batching()
        return auto_complete_model_config

    def initialize(self, args):
        pass

    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "A").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "B").as_numpy()
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("SUM", a + b), pb_utils.Tensor("PRODUCT", a * b)]))
        return responses
