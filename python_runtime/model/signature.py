"""The model's declared inputs and outputs, and the checks every protocol makes against them.

A model declares tensors through its metadata in V2 form (``init_metadata()`` or
``MODEL_METADATA``): ``{"name", "datatype", "shape"}`` with ``-1`` for any size. V2 requests
must then bring exactly the declared inputs with their datatype and a fitting shape. A Seldon
``data`` payload (ndarray, tensor, tftensor) is checked against the one declared input when
there is exactly one: its shape, and that its values are of the declared kind (JSON numbers
carry no width, so an integer list fits an FP32 input). Entries in Seldon's v1 form
(``messagetype``) declare nothing to check.
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import BadDataError, few, shown

# numpy dtype kinds a Seldon array may have for each declared datatype
_KINDS_FOR = {"BOOL": "b", "BYTES": "USOb", "FP16": "iuf", "FP32": "iuf", "FP64": "iuf"}
for _name in ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"):
    _KINDS_FOR[_name] = "iu"
_KIND_WORDS = {"b": "booleans", "i": "integers", "u": "integers", "f": "floating point numbers",
               "U": "strings", "S": "bytes", "O": "objects", "c": "complex numbers"}


class TensorSpec(object):
    """One declared tensor."""

    __slots__ = ("name", "datatype", "shape")

    def __init__(self, name: str, datatype: Optional[str], shape: Optional[List[int]]) -> None:
        self.name = name
        self.datatype = datatype
        self.shape = shape

    def as_metadata(self) -> Dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype or "FP64",
                "shape": list(self.shape) if self.shape is not None else [-1]}

    def fits(self, shape: Sequence[int]) -> bool:
        if self.shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            want < 0 or want == got for want, got in zip(self.shape, shape))

    def check_shape(self, shape: Sequence[int], where: str) -> None:
        if not self.fits(shape):
            raise BadDataError("%s: input %r must have shape %s (-1: any size), got %s"
                               % (where, self.name, list(self.shape), list(shape)))


class Signature(object):
    """Declared inputs and outputs (both may be empty: nothing is then checked)."""

    def __init__(self, inputs: List[TensorSpec], outputs: List[TensorSpec]) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.by_name = {spec.name: spec for spec in inputs}
        self.checks_inputs = True  # False: the inputs are declared, the model checks them

    @classmethod
    def from_metadata(cls, metadata: Optional[Dict[str, Any]]) -> "Signature":
        def specs(items: Any) -> List[TensorSpec]:
            return [TensorSpec(item["name"], item.get("datatype"), item.get("shape"))
                    for item in items or () if isinstance(item, dict) and "name" in item]

        metadata = metadata or {}
        return cls(specs(metadata.get("inputs")), specs(metadata.get("outputs")))

    def check_v2_inputs(self, inputs: Sequence[Any]) -> None:
        """V2 inputs (objects with name, datatype, shape) against the declared ones."""
        if not self.inputs or not self.checks_inputs:
            return
        names = [i.name for i in inputs]
        missing = [spec.name for spec in self.inputs if spec.name not in names]
        if missing:
            raise BadDataError("missing input(s) %s: this model declares %s"
                               % (few(missing, quote=True), self._declared()))
        for tensor in inputs:
            spec = self.by_name.get(tensor.name)
            if spec is None:
                raise BadDataError("unknown input %s: this model declares %s"
                                   % (shown(tensor.name), self._declared()))
            if spec.datatype and tensor.datatype != spec.datatype:
                raise BadDataError("input %r must have datatype %s, got %s"
                                   % (spec.name, spec.datatype, tensor.datatype))
            spec.check_shape(tensor.shape, "V2 request")

    def check_array(self, array: np.ndarray, where: str) -> None:
        """A Seldon data payload against the one declared input, if there is exactly one."""
        if len(self.inputs) != 1 or not self.checks_inputs:
            return
        spec = self.inputs[0]
        spec.check_shape(array.shape, where)
        kinds = _KINDS_FOR.get(spec.datatype or "")
        if kinds and array.size and array.dtype.kind not in kinds:
            raise BadDataError("%s: input %r must hold %s values (%s), got %s"
                               % (where, spec.name, spec.datatype,
                                  " or ".join(sorted({_KIND_WORDS[k] for k in kinds})),
                                  _KIND_WORDS.get(array.dtype.kind, str(array.dtype))))

    def _declared(self) -> str:
        return few("%s (%s %s)" % (s.name, s.datatype or "any type",
                                   s.shape if s.shape is not None else "any shape")
                   for s in self.inputs)
