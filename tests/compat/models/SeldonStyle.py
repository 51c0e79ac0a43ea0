"""Written the way Seldon's documentation writes models: it subclasses SeldonComponent, returns
SeldonResponse with per-request tags and metrics, and raises Seldon's exceptions. The candidate
server runs it without seldon-core installed (modelkiln's stand-in), the oracle with it."""

import numpy as np
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.user_model import SeldonComponent, SeldonNotImplementedError, SeldonResponse


class SeldonStyle(SeldonComponent):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def predict(self, X, features_names):
        X = np.asarray(X)
        first = X.flat[0] if X.size and X.dtype.kind in "if" else 0
        if first == -1:
            raise SeldonMicroserviceException("negative input refused", status_code=403,
                                              reason="FORBIDDEN_INPUT", payload={"x": 1})
        if first == -2:
            raise SeldonMicroserviceException("bad input, default status")
        if first == -3:
            raise SeldonNotImplementedError("not for -3")
        self.calls += 1
        return SeldonResponse(X * 2, tags={"per_request": "yes", "calls_seen": True},
                              metrics=[{"type": "COUNTER", "key": "seldon_style_calls",
                                        "value": 1}])

    def tags(self):
        return {"static": "from-class"}
