"""A model written the way Seldon's documentation writes them, importing seldon_core; no
requirements.txt: the builder image's stand-in for seldon_core serves these imports."""

import numpy as np
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.user_model import SeldonComponent, SeldonResponse


class SeldonModel(SeldonComponent):
    def predict(self, X, features_names):
        X = np.asarray(X, dtype=float)
        if (X < 0).any():
            raise SeldonMicroserviceException("negative values are not accepted",
                                              status_code=422, reason="NEGATIVE_INPUT")
        return SeldonResponse(X.sum(axis=1, keepdims=True), tags={"rows": int(X.shape[0])},
                              metrics=[{"type": "COUNTER", "key": "seldon_model_calls",
                                        "value": 1}])

    def tags(self):
        return {"written_for": "seldon-core"}
