"""An MLServer runtime serving an unchanged Seldon-style Python class (a test and bench peer).

The user class is found like Seldon's MODEL_NAME: class ``<Module>`` in ``<dir>/<Module>.py``.

- ``<Module>``: ``parameters.extra.model_name`` in model-settings.json, else the environment
  variable ``MODEL_NAME``, else the model's name;
- ``<dir>``: ``parameters.extra.model_dir``, else ``MODEL_DIR``, else the current directory.

The class is built without arguments and its ``load()`` called when it has one (as Seldon
does). ``predict`` decodes the one input with MLServer's NumpyCodec, calls
``predict(X, [])`` and answers one output, ``output-0``, encoded with NumpyCodec. Nothing
else of Seldon's contract (meta, tags, class_names, other service types) is reproduced.

Use it from model-settings.json with ``"implementation": "seldon_runtime.SeldonStyleModel"``
and this folder on PYTHONPATH (or this file next to model-settings.json).
"""

import importlib.util
import os
import sys

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse

OUTPUT_NAME = "output-0"


def load_user_class(model_dir, module_name):
    """Class ``module_name`` from ``<model_dir>/<module_name>.py``."""
    path = os.path.join(model_dir, module_name + ".py")
    if not os.path.isfile(path):
        raise ImportError("no %s: the user class %s must be in %s.py in %s"
                          % (path, module_name, module_name, model_dir))
    if model_dir not in sys.path:  # the class may import its neighbours
        sys.path.insert(0, model_dir)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, module_name)


class SeldonStyleModel(MLModel):
    """One Seldon-style class behind MLServer's V2 API."""

    async def load(self) -> bool:
        extra = {}
        if self.settings.parameters is not None and self.settings.parameters.extra:
            extra = self.settings.parameters.extra
        module_name = extra.get("model_name") or os.environ.get("MODEL_NAME") or self.name
        model_dir = os.path.abspath(extra.get("model_dir") or os.environ.get("MODEL_DIR")
                                    or os.getcwd())
        self.user = load_user_class(model_dir, module_name)()
        if callable(getattr(self.user, "load", None)):
            self.user.load()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if len(payload.inputs) != 1:
            raise InferenceError("this runtime takes exactly one input, got %d"
                                 % len(payload.inputs))
        X = NumpyCodec.decode_input(payload.inputs[0])
        answer = np.asarray(self.user.predict(X, []))
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[NumpyCodec.encode_output(OUTPUT_NAME, answer)],
        )
