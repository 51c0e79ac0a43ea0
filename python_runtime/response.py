"""``from python_runtime.response import Response``: the public path user code imports; the
class lives in ``model/response.py``."""

from .model.response import Response, unpack

__all__ = ["Response", "unpack"]
