"""Whole JSON documents in, JSON documents out: what file jobs (``jobs``), Modzy's ``/run``
and ODAHU's ``/api/model/invoke`` ask of the model, on top of the Seldon and V2 calls.

A document is a Seldon message or a V2 inference request (told apart by ``inputs``); a table
is column names and rows, sent as one ``ndarray`` message. Answers are plain JSON values,
written as the REST API writes them, so a file job's line equals the server's answer.
"""

import json
import os
import tempfile
from typing import Any, Dict, List, Tuple

from ..codecs import jsonio
from ..errors import BadDataError, MicroserviceError


class DocumentCalls(object):
    """The served model behind documents and tables."""

    def __init__(self, ctx: Any, seldon: Any, v2: Any, v2_model: str) -> None:
        self.ctx = ctx
        self.seldon = seldon      # inference.seldon.SeldonCalls
        self.v2 = v2              # inference.v2.V2Calls
        self.v2_model = v2_model  # the V2 name answers carry

    def message(self, item: Any) -> Dict[str, Any]:
        """The answer to one Seldon message or V2 request; raises MicroserviceError (the
        user's exceptions are the caller's to turn into one)."""
        if not isinstance(item, dict):
            raise BadDataError("expected a JSON object (a Seldon message or a V2 request), "
                               "got %s" % type(item).__name__)
        if "inputs" in item:
            request = dict(item)
            parameters = dict(request.get("parameters") or {})
            parameters.pop("binary_data_output", None)  # a document is JSON throughout
            request["parameters"] = parameters
            response, _ = self.ctx.call(self.v2.infer, request, None)
            response["model_name"] = self.v2_model
            return json.loads(jsonio.dumps(response))
        answer = self.ctx.call(self.seldon.predict, item)
        return json.loads(answer if isinstance(answer, (bytes, str)) else jsonio.dumps(answer))

    def table(self, names: List[str], rows: Any) -> Tuple[List[str], List[Any]]:
        """(output column names, output rows) for rows sent as one ``ndarray`` message."""
        answer = self.message({"data": {"names": list(names), "ndarray": rows}})
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise MicroserviceError("the model answered no table for a table input: %s"
                                    % json.dumps(answer)[:200])
        if "ndarray" in data:
            out = data["ndarray"]
        elif "tensor" in data:
            import numpy as np

            tensor = data["tensor"]
            out = np.asarray(tensor["values"]).reshape(tensor["shape"]).tolist()
        else:
            raise MicroserviceError("the model answered no table for a table input: %s"
                                    % json.dumps(answer)[:200])
        return list(data.get("names") or []), out


def write_atomically(path: str, data: bytes) -> None:
    """Write beside ``path`` and rename: a reader never sees half a result, and whatever
    fails (a full disk, a folder in the way) the temporary file is removed. The rename
    replaces a symlink at ``path``, never the file it points to."""
    fd, temporary = tempfile.mkstemp(prefix=".modelkiln-", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            fd = -1  # the file object closes it from here on
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the name points at it
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from other users
        os.replace(temporary, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise

