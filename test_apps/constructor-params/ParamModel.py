"""Constructor arguments come from PREDICTIVE_UNIT_PARAMETERS, converted to their types.

The defaults differ from the configured values, so an answer made with the defaults fails.
"""

import numpy as np


class ParamModel(object):
    def __init__(self, scale=1, offset=0.0, ratio=1.0, label="default", clip=False):
        self.scale = scale
        self.offset = offset
        self.ratio = ratio
        self.label = label
        self.clip = clip

    def predict(self, X, features_names=None):
        if isinstance(X, dict):  # jsonData: report what the constructor received
            params = {"scale": self.scale, "offset": self.offset, "ratio": self.ratio,
                      "label": self.label, "clip": self.clip}
            return {"params": params,
                    "types": {k: type(v).__name__ for k, v in params.items()}}
        out = np.asarray(X, dtype=float) * self.scale + self.offset
        if self.clip:
            out = np.clip(out, 0.0, 10.0)
        return out
