"""The MLServer runtime of bench/batching.py: TorchMLP (this folder) behind MLServer's V2 API.

It is tests/v2/mlserver's SeldonStyleModel (the class built once, ``predict(X, [])`` on the
input decoded by NumpyCodec, ``output-0`` encoded by NumpyCodec), with one addition: MLServer's
virtualenv has no torch, so ``parameters.extra.append_path`` (a list of folders, here
``.venv-frameworks``'s site-packages) is appended to ``sys.path`` before the model is
imported. Appended, not prepended: MLServer's own packages win, only torch comes from there.
Both virtualenvs are Python 3.11 with the same numpy. Bench-only code.

model-settings.json: ``"implementation": "mlserver_torch.TorchMLPRuntime"``, with this folder
and tests/v2/mlserver on PYTHONPATH; ``max_batch_size`` / ``max_batch_time`` turn on MLServer's
adaptive batching, which hands ``predict`` the merged request.
"""

import sys

from seldon_runtime import SeldonStyleModel


class TorchMLPRuntime(SeldonStyleModel):
    async def load(self) -> bool:
        extra = {}
        if self.settings.parameters is not None and self.settings.parameters.extra:
            extra = self.settings.parameters.extra
        for folder in extra.get("append_path") or ():
            if folder not in sys.path:
                sys.path.append(folder)
        return await super().load()
