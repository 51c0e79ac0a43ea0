import numpy as np


class Params:
    """Constructor keyword arguments come from PREDICTIVE_UNIT_PARAMETERS."""

    def __init__(self, scale=1.0, offset=0, label="none", enabled=False, ratio=0.0):
        self.scale = scale
        self.offset = offset
        self.label = label
        self.enabled = enabled
        self.ratio = ratio

    def predict(self, X, features_names):
        return np.asarray(X) * self.scale + self.offset

    def tags(self):
        return {
            "label": self.label,
            "enabled": self.enabled,
            "types": [type(v).__name__ for v in (self.scale, self.offset, self.label, self.enabled, self.ratio)],
        }
