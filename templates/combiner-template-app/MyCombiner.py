"""A starter COMBINER: replace the body of aggregate() with your own.

In an inference graph a combiner has several children, gets all their answers and merges them
into one (an ensemble). modelkiln calls aggregate() for each request to /aggregate, whose body
is a JSON list of messages (or ``{"seldonMessages": [...]}``), one per child.

This example averages the children's outputs element by element: with two classifiers that
answer class probabilities, the answer is their mean probability per class. It also reports a
per-request metric, the number of answers it combined.
"""

import numpy as np

# Lets a method return data plus per-request tags and metrics (Seldon's SeldonResponse works
# the same way). The modelkiln runtime provides it; it is not a package to install.
from python_runtime.response import Response


class BadRequest(Exception):
    """Raise this for input the combiner cannot use: the client gets a 400 with the message
    (any exception with an integer ``status_code`` works; anything else becomes a 500)."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class MyCombiner(object):
    def aggregate(self, Xs, features_names_list):
        """REPLACE with your way of merging the children's answers.

        Xs holds one numpy array per message, in the order they were posted;
        features_names_list holds each message's ``data.names``. The answer takes the data
        kind (ndarray or tensor) of the first message.
        """
        arrays = [np.asarray(X) for X in Xs]
        shapes = [list(a.shape) for a in arrays]
        if any(a.dtype.kind not in "iuf" for a in arrays) or any(s != shapes[0] for s in shapes):
            raise BadRequest("every message must hold numbers of the same shape, got shapes %s"
                             % shapes)
        mean = np.mean(arrays, axis=0)
        metrics = [{"type": "GAUGE", "key": "combiner_inputs", "value": len(arrays)}]
        return Response(mean, metrics=metrics)
