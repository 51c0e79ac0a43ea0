"""A model with heavier dependencies (pandas, scipy), for timing clean vs incremental builds."""

import pandas as pd
from scipy.special import softmax


class HeavyModel(object):
    def predict(self, X, features_names=None):
        frame = pd.DataFrame(X, columns=features_names or None)
        return softmax(frame.to_numpy(dtype=float), axis=1)
