"""V2 inference for a Triton Python-backend model (``model.formats.triton``), as Triton answers
it, without transport: REST and gRPC both reach ``TritonCalls.infer`` (through
``inference.v2``'s one branch for it).

Triton's checks, in its order and with its messages: input names given twice, the number of
inputs, unknown inputs and requested outputs, the batch dimension (the same for every input,
at most ``max_batch_size``), each input's data type and shape (``[-1] + dims`` with
batching). Then the data is decoded (``codecs.v2``: JSON or the binary extension; BYTES as
object arrays of bytes), one ``InferenceRequest`` goes to ``execute`` (or several, merged by
the adaptive batcher, through the same ``execute_requests``), and the response's outputs are
answered in the model's order, filtered by the requested ones, JSON or binary as asked. An
error response, or ``execute`` raising, is Triton's 500 with the model's message.
"""

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..codecs.v2 import DTYPES, EXTENSION_PARAMETERS, BinaryReader, decode_input, encode_output
from ..errors import BadDataError
from ..model.formats.triton import TritonModel, TritonModelError, check_shape
from ..model.formats.triton_config import V2_DATATYPE, data_type_name

NO_ID = "<id_unknown>"
DECOUPLED = ("model '%s' is decoupled (it answers a request in any number of responses): "
             "use gRPC ModelStreamInfer or POST /v2/models/<name>/generate_stream")


class TritonCalls(object):
    """V2 ``infer`` for one Triton model."""

    def __init__(self, model: TritonModel, component: Any = None) -> None:
        self.model = model
        self.component = component  # its batcher, with config.pbtxt's dynamic_batching
        # each input's V2 datatype and dims, looked up once
        self.expected = {name: (V2_DATATYPE.get(data_type_name(spec.data_type), "BYTES"),
                                [int(d) for d in spec.dims])
                         for name, spec in model.inputs.items()}

    def infer(self, request: Any, binary: Optional[BinaryReader]
              ) -> Tuple[Dict[str, Any], List[bytes]]:
        """(response object, binary chunks of the outputs sent in binary)."""
        if self.model.decoupled:
            raise BadDataError(DECOUPLED % self.model.name)
        inference_request, tensors, wanted, parameters, request_id = self.prepare(request,
                                                                                  binary)
        response = self.execute(inference_request, tensors)
        outputs = self.model.response_outputs(response)
        return self.answer(outputs, wanted, parameters, request_id)

    def infer_stream(self, request: Any, binary: Optional[BinaryReader]) -> Iterator[Any]:
        """The answers to one request of a stream (gRPC ModelStreamInfer): a decoupled
        model's responses as its sender sends them, else the one response; each a (response
        object, binary chunks), or the TritonModelError of an error response (the request's
        other responses still follow)."""
        if not self.model.decoupled:
            return iter([self.infer(request, binary)])
        inference_request, _tensors, wanted, parameters, request_id = self.prepare(request,
                                                                                   binary)
        return _Answers(self, self.model.execute_decoupled(inference_request),
                        lambda outputs: self.answer(outputs, wanted, parameters, request_id))

    # -- the generate extension -----------------------------------------------------------

    def generate(self, body: Any) -> Iterator[Any]:
        """V2 generate, as Triton makes it: the answers to a JSON object of inputs by name
        (``generate_request``), each the generate object of a response (``generated``) or
        the TritonModelError of an error response. A model that is not decoupled answers
        one; ``execute`` raising is a TritonModelError raised here."""
        request = self.generate_request(body)
        inference_request, tensors, wanted, parameters, request_id = self.prepare(request,
                                                                                  None)
        if not self.model.decoupled:
            response = self.execute(inference_request, tensors)
            try:
                return iter([self.generated(self.model.response_outputs(response),
                                            request_id)])
            except TritonModelError as exc:
                return iter([exc])
        return _Answers(self, self.model.execute_decoupled(inference_request),
                        lambda outputs: self.generated(outputs, request_id))

    def generate_request(self, body: Any) -> Dict[str, Any]:
        """The V2 request of a generate object: each of the model's inputs it names, its
        value (one element, or a list of them) shaped by the input's dims (and a batch
        dimension when the model batches); ``id`` and ``parameters`` as they are. Other
        keys are ignored, as Triton ignores them."""
        if not isinstance(body, dict):
            raise BadDataError("a generate request is a JSON object of inputs by name")
        request = {"inputs": []}  # type: Dict[str, Any]
        for key in ("id", "parameters"):
            if key in body:
                request[key] = body[key]
        for name in self.model.inputs:
            if name not in body:
                continue
            data = _flat(body[name])
            datatype, dims = self.expected[name]
            request["inputs"].append({"name": name, "datatype": datatype, "data": data,
                                      "shape": self._generate_shape(name, len(data), dims)})
        return request

    def _generate_shape(self, name: str, count: int, dims: List[int]) -> List[int]:
        batched = self.model.max_batch_size > 0
        fixed = 1
        for dim in dims:
            fixed *= dim if dim >= 0 else 1
        free = [index for index, dim in enumerate(dims) if dim < 0]
        shape = list(dims)
        if len(free) == 1 and count % fixed == 0:
            shape[free[0]] = count // fixed
            return [1] + shape if batched else shape
        if not free and batched and count and count % fixed == 0:
            return [count // fixed] + shape
        if not free and not batched and count == fixed:
            return shape
        raise BadDataError("The schema can not convert input '%s' to tensor with proper "
                           "shape" % name)

    def generated(self, outputs: List[Tuple[str, Any]], request_id: Optional[str]
                  ) -> Dict[str, Any]:
        """A response as Triton's generate answers it: each output by name (its one element,
        or a list), ``id``, ``model_name`` and ``model_version``, keys in sorted order."""
        answer = {}  # type: Dict[str, Any]
        for name, array in outputs:
            out, _ = encode_output(name, array, False)
            data = list(out["data"]) if not isinstance(out["data"], list) else out["data"]
            answer[name] = data[0] if len(data) == 1 else data
        if request_id:
            answer["id"] = request_id
        answer["model_name"] = self.model.name
        answer["model_version"] = self.model.version
        return dict(sorted(answer.items()))

    def prepare(self, request: Any, binary: Optional[BinaryReader]) -> Tuple[Any, ...]:
        """Triton's checks of a V2 request, then its ``InferenceRequest``: (request, decoded
        tensors, wanted outputs, parameters, id)."""
        if not isinstance(request, dict):
            raise BadDataError("the request JSON is not an object")
        items = request.get("inputs")
        if not isinstance(items, list):
            raise BadDataError("Unable to parse 'inputs': expected an array")
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise BadDataError("Unable to parse 'id': expected a string")
        parameters = request.get("parameters", {})
        if not isinstance(parameters, dict):
            raise BadDataError("Unable to parse 'parameters': expected an object")
        prefix = "[request id: %s] " % (request_id or NO_ID)
        self.check_inputs(items, prefix)
        wanted = self.requested_outputs(request.get("outputs"), parameters)
        tensors = [decode_input(item, index, binary) for index, item in enumerate(items)]
        if binary is not None:
            binary.check_consumed()
        model = self.model
        inference_request = model.make_request(
            [(t.name, t.array) for t in tensors], request_id or "",
            {k: v for k, v in parameters.items() if k not in EXTENSION_PARAMETERS}
            if parameters else None, [name for name, _ in wanted or ()])
        return inference_request, tensors, wanted, parameters, request_id

    def execute(self, inference_request: Any, tensors: List[Any]) -> Any:
        """The request's response: from a batch of requests that arrived together when the
        model has dynamic batching (its rows within max_batch_size), else executed alone."""
        batcher = getattr(self.component, "batcher", None)
        if batcher is None:
            return self.model.execute_requests([inference_request])[0]
        rows = int(tensors[0].array.shape[0]) if tensors and tensors[0].array.ndim else 0
        key = ("triton",) + tuple(sorted((t.name, t.array.dtype.str, t.array.shape[1:])
                                         for t in tensors))
        if not 0 < rows <= batcher.max_rows:
            return self.model.execute_requests([inference_request])[0]
        return batcher.submit(key, inference_request, [], None, rows)

    def check_inputs(self, items: List[Any], prefix: str) -> None:
        """Triton's checks of the inputs' names, count, batch size, data types and shapes."""
        model = self.model
        seen = []  # type: List[str]
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise BadDataError("Unable to parse 'inputs': input %d needs a name" % index)
            name = item["name"]
            if name in seen:
                raise BadDataError("%sinput '%s' already exists in request" % (prefix, name))
            seen.append(name)
            if item.get("datatype") not in DTYPES:
                raise BadDataError("invalid datatype for input %s" % name)
            parameters = item.get("parameters") or {}
            if "data" not in item and not (isinstance(parameters, dict)
                                           and "binary_data_size" in parameters):
                raise BadDataError(
                    "Input must set only one of the following fields: 'data', "
                    "'binary_data_size' in 'parameters', 'shared_memory_region' in "
                    "'parameters'. But no field is set")
            shape = item.get("shape")
            if not isinstance(shape, list) or not all(
                    isinstance(d, int) and not isinstance(d, bool) for d in shape):
                raise BadDataError("Unable to parse 'shape' of input '%s'" % name)
        total = len(model.inputs)
        if len(items) > total or len(items) < model.required:
            missing = [n for n, spec in model.inputs.items()
                       if not spec.optional and n not in seen]
            counted = ("expected %d inputs" % total if total == model.required else
                       "expected number of inputs between %d and %d" % (model.required, total))
            # (Triton 2.51 writes "input(s) ]" when none is missing: kept, for its clients'
            # string matches)
            raise BadDataError(
                "%s%s but got %d inputs for model '%s'. Got input(s) [%s], but missing "
                "required input(s) %s]. Please provide all required input(s)."
                % (prefix, counted, len(items), model.name,
                   ",".join("'%s'" % n for n in seen[::-1]),
                   "[" + ",".join("'%s'" % n for n in missing) if missing else ""))
        for name in seen:
            if name not in model.inputs:
                raise BadDataError("unexpected inference input '%s' for model '%s'"
                                   % (name, model.name))
        # Triton visits a request's inputs in its map's order: the reverse of the request's
        # (which input a message names, when several could be)
        items = items[::-1]
        if model.max_batch_size > 0:
            batch = None
            for item in items:
                shape = item["shape"]
                if not shape:
                    check_shape(model, item["name"], shape, prefix)
                if batch is None:
                    batch = shape[0]
                elif shape[0] != batch:
                    raise BadDataError("%sinput '%s' batch size does not match other inputs "
                                       "for '%s'" % (prefix, item["name"], model.name))
            if batch is not None and batch > model.max_batch_size:
                raise BadDataError("%sinference request batch-size must be <= %d for '%s'"
                                   % (prefix, model.max_batch_size, model.name))
            if batch == 0:  # Triton counts the bytes of one row and finds none
                self.empty_batch(items, prefix)
        batched = model.max_batch_size > 0
        for item in items:
            expected, dims = self.expected[item["name"]]
            if item["datatype"] != expected:
                raise BadDataError("%sinference input '%s' data-type is '%s', but model '%s' "
                                   "expects '%s'" % (prefix, item["name"], item["datatype"],
                                                     model.name, expected))
            shape = item["shape"]
            given = shape[1:] if batched else shape
            if len(given) != len(dims) or any(want != -1 and want != got
                                              for want, got in zip(dims, given)):
                check_shape(model, item["name"], shape, prefix)  # Triton's message

    def empty_batch(self, items: List[Any], prefix: str) -> None:
        """Triton's answer to a batch of 0 rows: the first fixed-size input has bytes
        missing."""
        for item in items:
            spec = self.model.inputs[item["name"]]
            kind = data_type_name(spec.data_type)
            if kind != "TYPE_STRING" and all(d >= 0 for d in spec.dims):
                size = DTYPES[V2_DATATYPE[kind]].itemsize
                for dim in spec.dims:
                    size *= int(dim)
                raise BadDataError("%sinput byte size mismatch for input '%s' for model '%s'. "
                                   "Expected %d, got 0" % (prefix, item["name"],
                                                           self.model.name, size))

    def requested_outputs(self, items: Any, parameters: Dict[str, Any]
                          ) -> Optional[List[Tuple[str, bool]]]:
        """(name, binary) of each requested output; None: all, in the model's order."""
        if items is None:
            return None
        if not isinstance(items, list):
            raise BadDataError("Unable to parse 'outputs': expected an array")
        wanted = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise BadDataError("Unable to parse 'outputs': output %d needs a name" % index)
            if item["name"] not in self.model.outputs:
                raise BadDataError("unexpected inference output '%s' for model '%s'"
                                   % (item["name"], self.model.name))
            own = item.get("parameters") or {}
            binary = own.get("binary_data", parameters.get("binary_data_output", False)
                             ) if isinstance(own, dict) else False
            if not isinstance(binary, bool):
                raise BadDataError("Unable to parse 'binary_data': expected a boolean")
            if all(name != item["name"] for name, _ in wanted):
                wanted.append((item["name"], binary))
        return wanted

    def answer(self, outputs: List[Tuple[str, Any]], wanted: Optional[List[Tuple[str, bool]]],
               parameters: Dict[str, Any], request_id: Optional[str]
               ) -> Tuple[Dict[str, Any], List[bytes]]:
        """The response object (Triton's keys and order) and the binary chunks."""
        all_binary = parameters.get("binary_data_output", False) is True
        flags = dict(wanted) if wanted is not None else None
        response = {}  # type: Dict[str, Any]
        if request_id:
            response["id"] = request_id
        response["model_name"] = self.model.name
        response["model_version"] = self.model.version
        response["outputs"] = []
        chunks = []
        for name, array in outputs:
            if flags is not None and name not in flags:
                continue
            binary = flags[name] if flags is not None else all_binary
            out, raw = encode_output(name, array, binary)
            response["outputs"].append(out)
            if raw is not None:
                chunks.append(raw)
        return response, chunks


def _flat(value: Any) -> List[Any]:
    """A generate value's elements, nested lists flattened."""
    if not isinstance(value, list):
        return [value]
    found = []  # type: List[Any]
    for item in value:
        found.extend(_flat(item))
    return found


class _Answers(object):
    """A decoupled request's answers (``TritonCalls.infer_stream``, ``generate``), each
    ``make(outputs)`` of a response, or the TritonModelError of an error response;
    ``close()``: its client went away, which the model's ``is_cancelled()`` says from then
    on."""

    def __init__(self, calls: TritonCalls, responses: Any,
                 make: Callable[[List[Tuple[str, Any]]], Any]) -> None:
        self.calls, self.responses, self.make = calls, responses, make

    def __iter__(self) -> "_Answers":
        return self

    def __next__(self) -> Any:
        response = next(self.responses)
        try:
            outputs = self.calls.model.response_outputs(response)
        except TritonModelError as exc:
            return exc
        return self.make(outputs)

    def ready(self) -> bool:
        """Whether the next answer (or the end) is there without waiting."""
        return self.responses.ready()

    def close(self) -> None:
        self.responses.close()
