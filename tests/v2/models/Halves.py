"""predict_v2_raw: answers its first input twice, as "same" (unchanged) then "half" (FP16).

FP16 has no typed field in V2 gRPC, so a typed gRPC request to this class gets an answer with
a typed output and an FP16 one (the mirror rule: typed in, typed out; FP16 always raw).
"""

import numpy as np


class Halves(object):
    def predict_v2_raw(self, request):
        x = np.asarray(request["inputs"][0]["data"])
        return {"outputs": [{"name": "same", "data": x},
                            {"name": "half", "data": x.astype(np.float16), "datatype": "FP16"}]}
