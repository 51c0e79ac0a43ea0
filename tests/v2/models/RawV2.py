"""predict_v2_raw: two outputs (sum per row as FP64, 0 for BYTES; the input names as BYTES).

predict() serves Seldon's routes only (V2 requests go to predict_v2_raw): it answers -X, so a
V2 answer that came from predict would show.
"""

import numpy as np


class RawV2(object):
    def predict(self, X, features_names, meta=None):
        return -np.asarray(X)

    def predict_v2_raw(self, request):
        inputs = request["inputs"]
        first = np.asarray(inputs[0]["data"])
        rows = first.shape[0] if first.ndim else 1
        if first.size and first.dtype.kind in "biuf":
            total = first.reshape(rows, -1).astype(np.float64).sum(axis=1)
        else:  # no values, or BYTES
            total = np.zeros(rows)
        return {
            "outputs": [
                {"name": "total", "data": total, "datatype": "FP64"},
                {"name": "names", "data": np.array([i["name"] for i in inputs], dtype=object)},
            ],
            "parameters": {"raw": True, "n_inputs": len(inputs)},
        }
