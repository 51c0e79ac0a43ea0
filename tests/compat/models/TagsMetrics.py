import numpy as np


class TagsMetrics:
    """Echoes the input; adds static tags and COUNTER / GAUGE / TIMER metrics."""

    def predict(self, X, features_names):
        return np.asarray(X)

    def transform_input(self, X, features_names):
        return np.asarray(X)

    def tags(self):
        return {"model_tag": "tm", "version": 3, "shared": "from-model"}

    def metrics(self):
        return [
            {"type": "COUNTER", "key": "mycounter", "value": 1},
            {"type": "GAUGE", "key": "mygauge", "value": 100, "tags": {"zone": "a"}},
            {"type": "TIMER", "key": "mytimer", "value": 20.2},
        ]
