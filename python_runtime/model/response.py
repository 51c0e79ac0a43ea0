"""What a user method may return besides plain data: data plus tags and metrics."""

from typing import Any, Dict, List, Optional, Tuple


class Response(object):
    """Return this from a user method to add per-request tags and metrics to the answer.

    Any object with ``data``, ``tags`` and ``metrics`` attributes (such as Seldon's
    ``SeldonResponse``) is treated the same way.
    """

    def __init__(self, data: Any, tags: Optional[Dict[str, Any]] = None,
                 metrics: Optional[List[Dict[str, Any]]] = None) -> None:
        self.data = data
        self.tags = tags if tags is not None else {}
        self.metrics = metrics if metrics is not None else []


def _plain_types() -> Tuple[type, ...]:
    import numpy as np

    return (np.ndarray, list, dict, str, bytes)


_PLAIN = _plain_types()  # what most methods return: never a Response


def unpack(result: Any) -> Tuple[Any, Optional[Dict[str, Any]], List[Dict[str, Any]]]:
    """(data, runtime tags, runtime metrics) of a user method's return value."""
    if type(result) in _PLAIN:
        return result, None, []
    if isinstance(result, Response) or (
        hasattr(result, "data") and hasattr(result, "tags") and hasattr(result, "metrics")
        and not hasattr(result, "shape")
    ):
        return result.data, result.tags or None, list(result.metrics or [])
    return result, None, []
