"""A starter ROUTER: replace the rule in route() with your own.

In an inference graph a router has several children and sends each request to exactly one of
them. modelkiln calls route() for each request to /route; it returns the index of the child
(0 for the first, 1 for the second, ...), which the answer carries as ``[[branch]]``.

This example sends a request to child 0 when the mean of one column (by default column 2,
petal_length in the iris data) is below a threshold, and to child 1 otherwise: say, a cheap
model for the easy cases and a bigger one for the rest. Both numbers are constructor
parameters, so a deployment can change them without a rebuild (PREDICTIVE_UNIT_PARAMETERS).
"""

import numpy as np


class BadRequest(Exception):
    """Raise this for input the router cannot use: the client gets a 400 with the message
    (any exception with an integer ``status_code`` works; anything else becomes a 500)."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class MyRouter(object):
    def __init__(self, threshold=2.5, column=2):
        """Constructor arguments come from PREDICTIVE_UNIT_PARAMETERS, e.g.
        ``[{"name": "threshold", "value": "3.0", "type": "FLOAT"},
           {"name": "column", "value": "0", "type": "INT"}]``; the defaults apply otherwise.
        REPLACE them with whatever your rule needs.
        """
        self.threshold = float(threshold)
        self.column = int(column)

    def route(self, X, features_names=None):
        """REPLACE with your routing rule. Return an int: the child to send the request to.

        X is a numpy array, one row per instance (from ``data.ndarray`` or ``data.tensor``);
        features_names is the request's ``data.names`` (may be empty). A request is routed as
        a whole, so the rule looks at all its rows.
        """
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if (X.ndim != 2 or X.shape[0] == 0 or X.shape[1] <= self.column
                or X.dtype.kind not in "iuf"):
            raise BadRequest("expected rows of at least %d numbers (the router reads column "
                             "%d), got an array of shape %s"
                             % (self.column + 1, self.column, list(X.shape)))
        if X[:, self.column].mean() < self.threshold:
            return 0
        return 1
