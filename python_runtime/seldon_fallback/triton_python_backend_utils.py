"""modelkiln's stand-in for ``triton_python_backend_utils``, the module a Triton Python-backend
``model.py`` imports (``import triton_python_backend_utils as pb_utils``). It is found last on
the import path (``model.formats.triton``), so a real one, where installed, wins.

What Python-backend models use: ``Tensor``, ``InferenceRequest``, ``InferenceResponse``,
``TritonError``, ``TritonModelException``, ``get_input_tensor_by_name``,
``get_input_config_by_name``, ``get_output_config_by_name``, the data type helpers,
a decoupled model's response sender (``InferenceResponseSender``),
``serialize_byte_tensor`` / ``deserialize_bytes_tensor``, ``ModelConfig`` (what
``auto_complete_config`` gets) and ``Logger``. BYTES tensors are numpy object arrays of
``bytes``, as Triton gives them. Calling other models (``InferenceRequest.exec``, BLS) is not
there: modelkiln serves one model.
"""

import json
import logging
import struct

import numpy as np

__modelkiln_fallback__ = True

TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1
TRITON_STRING_TO_NUMPY = {
    "TYPE_BOOL": bool, "TYPE_UINT8": np.uint8, "TYPE_UINT16": np.uint16,
    "TYPE_UINT32": np.uint32, "TYPE_UINT64": np.uint64, "TYPE_INT8": np.int8,
    "TYPE_INT16": np.int16, "TYPE_INT32": np.int32, "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16, "TYPE_FP32": np.float32, "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_,
}
# Triton's DataType numbers (model_config.proto) <-> numpy types
_NUMPY_OF = {1: np.bool_, 2: np.uint8, 3: np.uint16, 4: np.uint32, 5: np.uint64, 6: np.int8,
             7: np.int16, 8: np.int32, 9: np.int64, 10: np.float16, 11: np.float32,
             12: np.float64, 13: np.object_}
_TRITON_OF = {np.dtype(kind): number for number, kind in _NUMPY_OF.items()}
_LENGTH = struct.Struct("<I")
_log = logging.getLogger("modelkiln.model")


def triton_to_numpy_type(data_type):
    """The numpy type of a Triton DataType number (None for one it does not know)."""
    return _NUMPY_OF.get(data_type)


def numpy_to_triton_type(data_type):
    """The Triton DataType number of a numpy type or dtype (``bytes_`` is TYPE_STRING)."""
    try:
        dtype = np.dtype(data_type)
    except TypeError:
        return None
    if dtype.kind == "S":
        return 13
    return _TRITON_OF.get(dtype)


def triton_string_to_numpy(triton_type_string):
    """The numpy type of a config data type: ``TYPE_FP32`` -> ``np.float32``."""
    return TRITON_STRING_TO_NUMPY[triton_type_string]


def serialize_byte_tensor(input_tensor):
    """A BYTES tensor as Triton sends it: each element's 4-byte little-endian length, then its
    bytes (str elements as UTF-8), in C order; None for an empty or non-bytes tensor."""
    if input_tensor.size == 0 or (input_tensor.dtype != np.object_
                                  and input_tensor.dtype.type != np.bytes_):
        return None
    parts = []
    for item in input_tensor.ravel(order="C"):
        data = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(_LENGTH.pack(len(data)) + data)
    return np.frombuffer(b"".join(parts), dtype=np.uint8)


def deserialize_bytes_tensor(encoded_tensor):
    """The elements of a serialized BYTES tensor, as an object array of bytes."""
    data = bytes(encoded_tensor)
    items = []
    offset = 0
    while offset < len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += 4
        items.append(data[offset:offset + length])
        offset += length
    array = np.empty(len(items), dtype=np.object_)
    array[:] = items
    return array


class TritonModelException(Exception):
    """An error a model raises (Triton answers it with the model's message)."""

    def __init__(self, msg):
        super(TritonModelException, self).__init__(msg)
        self._msg = msg

    def message(self):
        return self._msg


class TritonError(object):
    """The error of an InferenceResponse; ``code`` is one of the class's codes."""

    UNKNOWN, INTERNAL, NOT_FOUND, INVALID_ARG, UNAVAILABLE, UNSUPPORTED, ALREADY_EXISTS, \
        CANCELLED = range(8)

    def __init__(self, message, code=INTERNAL):
        self._message = message
        self._code = code

    def message(self):
        return self._message

    def code(self):
        return self._code

    def __str__(self):
        return str(self._message)


class Tensor(object):
    """A named input or output: ``Tensor(name, numpy_array)``."""

    def __init__(self, name, numpy_array, triton_dtype=None):
        if not isinstance(numpy_array, np.ndarray):
            raise TritonModelException("Tensor %r: data must be a numpy array, got %s"
                                       % (name, type(numpy_array).__name__))
        if numpy_array.dtype.kind == "U" or numpy_array.dtype.kind == "V":
            raise TritonModelException(
                "Tensor dtype used for numpy_array is not support by Python backend. Please "
                "use np.object_ instead.")
        if triton_dtype is not None:
            wanted = triton_to_numpy_type(triton_dtype)
            if wanted is not None and numpy_array.dtype != wanted:
                numpy_array = numpy_array.view(wanted)
        else:
            triton_dtype = numpy_to_triton_type(numpy_array.dtype)
        self._name = name
        self._array = numpy_array
        self._triton_dtype = triton_dtype

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array

    def triton_dtype(self):
        return self._triton_dtype

    def shape(self):
        return list(self._array.shape)

    def is_cpu(self):
        return True

    def to_dlpack(self):
        return self._array.__dlpack__()

    @staticmethod
    def from_dlpack(name, capsule):
        return Tensor(name, np.from_dlpack(capsule))


class InferenceRequest(object):
    """One request given to ``execute``: its inputs, id, requested outputs, parameters."""

    def __init__(self, inputs=None, request_id="", correlation_id=0,
                 requested_output_names=None, model_name="", model_version=-1, flags=0,
                 timeout=0, parameters=None, **kwargs):
        self._inputs = list(inputs or [])
        self._request_id = request_id
        self._correlation_id = correlation_id
        self._requested_output_names = list(requested_output_names or [])
        self._model_name = model_name
        self._model_version = model_version
        self._flags = flags
        self._timeout = timeout
        if isinstance(parameters, dict):
            parameters = json.dumps(parameters)
        self._parameters = parameters or "{}"

    def inputs(self):
        return self._inputs

    def request_id(self):
        return self._request_id

    def correlation_id(self):
        return self._correlation_id

    def requested_output_names(self):
        return self._requested_output_names

    def model_name(self):
        return self._model_name

    def model_version(self):
        return self._model_version

    def flags(self):
        return self._flags

    def timeout(self):
        return self._timeout

    def parameters(self):
        """The request's parameters as a JSON text."""
        return self._parameters

    def is_cancelled(self):
        sender = getattr(self, "_response_sender", None)
        return sender is not None and sender.is_cancelled()

    def get_response_sender(self):
        sender = getattr(self, "_response_sender", None)
        if sender is None:
            raise TritonModelException(
                "this model is not decoupled: return its responses from execute(), or set "
                "model_transaction_policy { decoupled: true } in config.pbtxt")
        return sender

    def exec(self, *args, **kwargs):
        raise TritonModelException("calling another model (BLS, InferenceRequest.exec) is not "
                                   "available: modelkiln serves one model")

    async_exec = exec


class InferenceResponseSender(object):
    """A decoupled model's way to answer a request (``request.get_response_sender()``): any
    number of responses, from any thread, during ``execute`` or after it, the last one
    flagged ``TRITONSERVER_RESPONSE_COMPLETE_FINAL`` (alone, or with a response)."""

    def __init__(self, deliver, cancelled):
        self._deliver = deliver      # (response or None, final) -> None
        self._cancelled = cancelled  # () -> whether the client has gone
        self._closed = False

    def send(self, response=None, flags=0):
        if self._closed:
            raise TritonModelException("Unable to send response. Response sender has been "
                                       "closed.")
        final = bool(flags & TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        if response is None and not final:
            raise TritonModelException(
                "Inference Response object must be provided when the response flags is not "
                "set to TRITONSERVER_RESPONSE_COMPLETE_FINAL.")
        if final:
            self._closed = True
        self._deliver(response, final)

    def is_cancelled(self):
        return self._cancelled()


class InferenceResponse(object):
    """``execute``'s answer to one request: output tensors, or an error."""

    def __init__(self, output_tensors=None, error=None, parameters=None):
        if output_tensors is None:
            output_tensors = []
        if not isinstance(output_tensors, list):
            raise TritonModelException('"output_tensors" must be a list.')
        self._output_tensors = output_tensors
        self._error = error
        if isinstance(parameters, dict):
            parameters = json.dumps(parameters)
        self._parameters = parameters or "{}"

    def output_tensors(self):
        return self._output_tensors

    def has_error(self):
        return self._error is not None

    def error(self):
        return self._error

    def parameters(self):
        return self._parameters


def get_input_tensor_by_name(inference_request, name):
    """The request's input named ``name``, or None."""
    for tensor in inference_request.inputs():
        if tensor.name() == name:
            return tensor
    return None


def get_output_tensor_by_name(inference_response, name):
    """The response's output named ``name``, or None."""
    for tensor in inference_response.output_tensors():
        if tensor.name() == name:
            return tensor
    return None


def _config_entry(model_config, key, name):
    for entry in model_config.get(key, ()):
        if entry.get("name") == name:
            return entry
    return None


def get_input_config_by_name(model_config, name):
    """The input ``name`` of a model configuration dict, or None."""
    return _config_entry(model_config, "input", name)


def get_output_config_by_name(model_config, name):
    """The output ``name`` of a model configuration dict, or None."""
    return _config_entry(model_config, "output", name)


class ModelConfig(object):
    """The configuration ``auto_complete_config`` completes: what it adds is checked against
    what ``config.pbtxt`` already says, as Triton checks it."""

    def __init__(self, model_config):
        if isinstance(model_config, str):
            model_config = json.loads(model_config)
        self._model_config = model_config

    def as_dict(self):
        return self._model_config

    def set_max_batch_size(self, max_batch_size):
        current = self._model_config.get("max_batch_size", 0)
        if current not in (0, max_batch_size):
            raise ValueError("configuration specified max_batch_size " + str(current) +
                             ", but in auto-complete-config function for model '" +
                             self._model_config.get("name", "") + "' specified max_batch_size " +
                             str(max_batch_size))
        self._model_config["max_batch_size"] = max_batch_size

    def set_dynamic_batching(self):
        self._model_config.setdefault("dynamic_batching", {})

    def set_model_transaction_policy(self, transaction_policy_dict):
        self._model_config["model_transaction_policy"] = dict(transaction_policy_dict)

    def _add(self, key, spec, what):
        if not isinstance(spec, dict):
            raise ValueError("model config %s %r should be a dict" % (what, spec))
        for field in spec:
            if field not in ("name", "data_type", "dims", "optional", "format", "reshape",
                             "is_shape_tensor", "allow_ragged_batch", "label_filename"):
                raise ValueError("model config %s %r has an unknown field %r"
                                 % (what, spec.get("name"), field))
        if "name" not in spec:
            raise ValueError("model config %s must have a name: %r" % (what, spec))
        entries = self._model_config.setdefault(key, [])
        for entry in entries:
            if entry.get("name") != spec["name"]:
                continue
            for field in ("data_type", "dims"):
                if field in spec and field in entry and entry[field] != spec[field]:
                    raise ValueError(
                        "unable to load model '%s', configuration expects %s %s of %s %s "
                        "but auto-complete-config function specifies %s %s"
                        % (self._model_config.get("name", ""), field, entry[field], what,
                           spec["name"], field, spec[field]))
                entry.setdefault(field, spec.get(field))
            return
        if "data_type" not in spec or "dims" not in spec:
            raise ValueError("model config %s %r needs data_type and dims" % (what, spec["name"]))
        entries.append(dict(spec))

    def add_input(self, input):  # noqa: A002 (Triton's own parameter name)
        self._add("input", input, "input")

    def add_output(self, output):
        self._add("output", output, "output")


class Logger(object):
    """Triton's model logger: the server log, under the ``modelkiln.model`` logger."""

    INFO, WARNING, ERROR, VERBOSE = range(4)
    _LEVELS = {0: logging.INFO, 1: logging.WARNING, 2: logging.ERROR, 3: logging.DEBUG}

    @classmethod
    def log(cls, message, level=0):
        _log.log(cls._LEVELS.get(level, logging.INFO), "%s", message)

    @classmethod
    def log_info(cls, message):
        _log.info("%s", message)

    @classmethod
    def log_warn(cls, message):
        _log.warning("%s", message)

    @classmethod
    def log_error(cls, message):
        _log.error("%s", message)

    @classmethod
    def log_verbose(cls, message):
        _log.debug("%s", message)
