"""Triton's model configuration (``config.pbtxt``): a descriptor of its ``ModelConfig`` message,
declared here from the message's published field list (names, numbers, types; package
``inference``, as Triton's ``model_config.proto`` has it), read with protobuf's own text format
parser, completed as Triton completes it, and printed as Triton's configuration endpoint prints
it.

- ``parse(text, path)`` (``read_config(path)``): the file's message; a field ModelConfig does not have is a
  ConfigError naming the field, the line and the file;
- ``complete(config, ...)``: what Triton fills in for a Python-backend model before it serves
  it (backend, version policy, instance groups, optimization defaults, the dynamic batcher's
  preferred batch size, ``model.py``), so ``args["model_config"]`` and ``/config`` say what
  Triton's say;
- ``as_json(config)``: Triton's JSON form: field names as in the .proto, every scalar, list
  and map printed (unset sub-messages are not), enums by name, 64-bit integers as numbers,
  fields in declaration order;
- ``v2_tensors(config)``: the inputs and outputs as V2 metadata (``[-1] + dims`` when
  ``max_batch_size`` > 0; ``TYPE_STRING`` is ``BYTES``).

The descriptor is built once per process into a private pool (``codecs.descriptors``), so it
works with the protobuf of either image (3.19 on py36, 7.x on py311). May import ``codecs`` and
``errors``.
"""

import threading
from typing import Any, Dict, List, Optional

from ...codecs.descriptors import (BOOL, DOUBLE, ENUM, FLOAT, INT32, INT64, MESSAGE, STRING,
                                   UINT32, UINT64, file_proto, message_class)

PACKAGE = "inference"
FILE_NAME = "modelkiln/triton_model_config.proto"
_ = "." + PACKAGE + "."
DATA_TYPES = ["TYPE_INVALID", "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32",
              "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16", "TYPE_INT32", "TYPE_INT64", "TYPE_FP16",
              "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16"]
_DT = _ + "DataType"
_STRINGS = ("map", (STRING, STRING))


def _enum(names: List[str]) -> List[Any]:
    return [(name, number) for number, name in enumerate(names)]


# Fields in the order the .proto declares them (the order Triton's JSON prints them).
MODEL_CONFIG = {
    "package": PACKAGE,
    "enums": {"DataType": _enum(DATA_TYPES)},
    "messages": [
        ("ModelRateLimiter", [
            ("resources", 1, MESSAGE, _ + "ModelRateLimiter.Resource", True),
            ("priority", 2, UINT32)],
         [("Resource", [("name", 1, STRING), ("global", 2, BOOL), ("count", 3, UINT32)])]),
        ("ModelInstanceGroup", [
            ("name", 1, STRING),
            ("kind", 4, ENUM, _ + "ModelInstanceGroup.Kind"),
            ("count", 2, INT32),
            ("rate_limiter", 6, MESSAGE, _ + "ModelRateLimiter"),
            ("gpus", 3, INT32, None, True),
            ("secondary_devices", 8, MESSAGE, _ + "ModelInstanceGroup.SecondaryDevice", True),
            ("profile", 5, STRING, None, True),
            ("passive", 7, BOOL),
            ("host_policy", 9, STRING)],
         [("SecondaryDevice", [
             ("kind", 1, ENUM, _ + "ModelInstanceGroup.SecondaryDevice.SecondaryDeviceKind"),
             ("device_id", 2, INT64)], [], [], {"SecondaryDeviceKind": [("KIND_NVDLA", 0)]})],
         [], {"Kind": _enum(["KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"])}),
        ("ModelTensorReshape", [("shape", 1, INT64, None, True)]),
        ("ModelInput", [
            ("name", 1, STRING), ("data_type", 2, ENUM, _DT),
            ("format", 3, ENUM, _ + "ModelInput.Format"),
            ("dims", 4, INT64, None, True),
            ("reshape", 5, MESSAGE, _ + "ModelTensorReshape"),
            ("is_shape_tensor", 6, BOOL), ("allow_ragged_batch", 7, BOOL),
            ("optional", 8, BOOL), ("is_non_linear_format_io", 9, BOOL)],
         [], [], {"Format": _enum(["FORMAT_NONE", "FORMAT_NHWC", "FORMAT_NCHW"])}),
        ("ModelOutput", [
            ("name", 1, STRING), ("data_type", 2, ENUM, _DT),
            ("dims", 3, INT64, None, True),
            ("reshape", 5, MESSAGE, _ + "ModelTensorReshape"),
            ("label_filename", 4, STRING), ("is_shape_tensor", 6, BOOL),
            ("is_non_linear_format_io", 7, BOOL)]),
        ("BatchInput", [
            ("kind", 1, ENUM, _ + "BatchInput.Kind"),
            ("target_name", 2, STRING, None, True), ("data_type", 3, ENUM, _DT),
            ("source_input", 4, STRING, None, True)],
         [], [], {"Kind": _enum([
             "BATCH_ELEMENT_COUNT", "BATCH_ACCUMULATED_ELEMENT_COUNT",
             "BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO", "BATCH_MAX_ELEMENT_COUNT_AS_SHAPE",
             "BATCH_ITEM_SHAPE", "BATCH_ITEM_SHAPE_FLATTEN"])}),
        ("BatchOutput", [
            ("target_name", 1, STRING, None, True),
            ("kind", 2, ENUM, _ + "BatchOutput.Kind"),
            ("source_input", 3, STRING, None, True)],
         [], [], {"Kind": [("BATCH_SCATTER_WITH_INPUT_SHAPE", 0)]}),
        ("ModelVersionPolicy", [
            ("latest", 1, MESSAGE, _ + "ModelVersionPolicy.Latest", False, 0),
            ("all", 2, MESSAGE, _ + "ModelVersionPolicy.All", False, 0),
            ("specific", 3, MESSAGE, _ + "ModelVersionPolicy.Specific", False, 0)],
         [("Latest", [("num_versions", 1, UINT32)]), ("All", []),
          ("Specific", [("versions", 1, INT64, None, True)])],
         ["policy_choice"]),
        ("ModelOptimizationPolicy", [
            ("graph", 1, MESSAGE, _ + "ModelOptimizationPolicy.Graph"),
            ("priority", 2, ENUM, _ + "ModelOptimizationPolicy.ModelPriority"),
            ("cuda", 3, MESSAGE, _ + "ModelOptimizationPolicy.Cuda"),
            ("execution_accelerators", 4, MESSAGE,
             _ + "ModelOptimizationPolicy.ExecutionAccelerators"),
            ("input_pinned_memory", 5, MESSAGE, _ + "ModelOptimizationPolicy.PinnedMemoryBuffer"),
            ("output_pinned_memory", 6, MESSAGE,
             _ + "ModelOptimizationPolicy.PinnedMemoryBuffer"),
            ("gather_kernel_buffer_threshold", 7, UINT32), ("eager_batching", 8, BOOL)],
         [("Graph", [("level", 1, INT32)]),
          ("Cuda", [
              ("graphs", 1, BOOL), ("busy_wait_events", 2, BOOL),
              ("graph_spec", 3, MESSAGE, _ + "ModelOptimizationPolicy.Cuda.GraphSpec", True),
              ("output_copy_stream", 4, BOOL)],
           [("GraphSpec", [
               ("batch_size", 1, INT32),
               ("input", 2, "map", (STRING, _ + "ModelOptimizationPolicy.Cuda.GraphSpec.Shape")),
               ("graph_lower_bound", 3, MESSAGE,
                _ + "ModelOptimizationPolicy.Cuda.GraphSpec.LowerBound")],
             [("Shape", [("dim", 1, INT64, None, True)]),
              ("LowerBound", [
                  ("batch_size", 1, INT32),
                  ("input", 2, "map",
                   (STRING, _ + "ModelOptimizationPolicy.Cuda.GraphSpec.Shape"))])])]),
          ("ExecutionAccelerators", [
              ("gpu_execution_accelerator", 1, MESSAGE,
               _ + "ModelOptimizationPolicy.ExecutionAccelerators.Accelerator", True),
              ("cpu_execution_accelerator", 2, MESSAGE,
               _ + "ModelOptimizationPolicy.ExecutionAccelerators.Accelerator", True)],
           [("Accelerator", [("name", 1, STRING), ("parameters", 2) + _STRINGS])]),
          ("PinnedMemoryBuffer", [("enable", 1, BOOL)])],
         [], {"ModelPriority": _enum(["PRIORITY_DEFAULT", "PRIORITY_MAX", "PRIORITY_MIN"])}),
        ("ModelQueuePolicy", [
            ("timeout_action", 1, ENUM, _ + "ModelQueuePolicy.TimeoutAction"),
            ("default_timeout_microseconds", 2, UINT64), ("allow_timeout_override", 3, BOOL),
            ("max_queue_size", 4, UINT32)],
         [], [], {"TimeoutAction": _enum(["REJECT", "DELAY"])}),
        ("ModelDynamicBatching", [
            ("preferred_batch_size", 1, INT32, None, True),
            ("max_queue_delay_microseconds", 2, UINT64), ("preserve_ordering", 3, BOOL),
            ("priority_levels", 4, UINT64), ("default_priority_level", 5, UINT64),
            ("default_queue_policy", 6, MESSAGE, _ + "ModelQueuePolicy"),
            ("priority_queue_policy", 7, "map", (UINT64, _ + "ModelQueuePolicy"))]),
        ("ModelSequenceBatching", [
            ("direct", 3, MESSAGE, _ + "ModelSequenceBatching.StrategyDirect", False, 0),
            ("oldest", 4, MESSAGE, _ + "ModelSequenceBatching.StrategyOldest", False, 0),
            ("max_sequence_idle_microseconds", 1, UINT64),
            ("control_input", 2, MESSAGE, _ + "ModelSequenceBatching.ControlInput", True),
            ("state", 5, MESSAGE, _ + "ModelSequenceBatching.State", True),
            ("iterative_sequence", 6, BOOL)],
         [("Control", [
             ("kind", 1, ENUM, _ + "ModelSequenceBatching.Control.Kind"),
             ("int32_false_true", 2, INT32, None, True),
             ("fp32_false_true", 3, FLOAT, None, True),
             ("bool_false_true", 5, BOOL, None, True),
             ("data_type", 4, ENUM, _DT)],
           [], [], {"Kind": _enum(["CONTROL_SEQUENCE_START", "CONTROL_SEQUENCE_READY",
                                   "CONTROL_SEQUENCE_END", "CONTROL_SEQUENCE_CORRID"])}),
          ("ControlInput", [
              ("name", 1, STRING),
              ("control", 2, MESSAGE, _ + "ModelSequenceBatching.Control", True)]),
          ("InitialState", [
              ("data_type", 1, ENUM, _DT), ("dims", 2, INT64, None, True),
              ("zero_data", 3, BOOL, None, False, 0), ("data_file", 4, STRING, None, False, 0),
              ("name", 5, STRING)],
           [], ["state_data"]),
          ("State", [
              ("input_name", 1, STRING), ("output_name", 2, STRING),
              ("data_type", 3, ENUM, _DT), ("dims", 4, INT64, None, True),
              ("initial_state", 5, MESSAGE, _ + "ModelSequenceBatching.InitialState", True),
              ("use_same_buffer_for_input_output", 6, BOOL),
              ("use_growable_memory", 7, BOOL)]),
          ("StrategyDirect", [("max_queue_delay_microseconds", 1, UINT64),
                              ("minimum_slot_utilization", 2, FLOAT)]),
          ("StrategyOldest", [
              ("max_candidate_sequences", 1, INT32),
              ("preferred_batch_size", 2, INT32, None, True),
              ("max_queue_delay_microseconds", 3, UINT64), ("preserve_ordering", 4, BOOL)])],
         ["strategy_choice"]),
        ("ModelEnsembling", [
            ("step", 1, MESSAGE, _ + "ModelEnsembling.Step", True),
            ("max_inflight_requests", 2, UINT32)],
         [("Step", [
             ("model_name", 1, STRING), ("model_version", 2, INT64),
             ("input_map", 3) + _STRINGS, ("output_map", 4) + _STRINGS,
             ("model_namespace", 5, STRING)])]),
        ("ModelParameter", [("string_value", 1, STRING)]),
        ("ModelWarmup", [
            ("name", 1, STRING), ("batch_size", 2, UINT32),
            ("inputs", 3, "map", (STRING, _ + "ModelWarmup.Input")), ("count", 4, UINT32)],
         [("Input", [
             ("data_type", 1, ENUM, _DT), ("dims", 2, INT64, None, True),
             ("zero_data", 3, BOOL, None, False, 0), ("random_data", 4, BOOL, None, False, 0),
             ("input_data_file", 5, STRING, None, False, 0)],
           [], ["input_data_type"])]),
        ("ModelOperations", [("op_library_filename", 1, STRING, None, True)]),
        ("ModelTransactionPolicy", [("decoupled", 1, BOOL)]),
        ("ModelRepositoryAgents", [
            ("agents", 1, MESSAGE, _ + "ModelRepositoryAgents.Agent", True)],
         [("Agent", [("name", 1, STRING), ("parameters", 2) + _STRINGS])]),
        ("ModelResponseCache", [("enable", 1, BOOL)]),
        ("ModelMetrics", [
            ("metric_control", 1, MESSAGE, _ + "ModelMetrics.MetricControl", True)],
         [("MetricControl", [
             ("metric_identifier", 1, MESSAGE,
              _ + "ModelMetrics.MetricControl.MetricIdentifier"),
             ("histogram_options", 2, MESSAGE,
              _ + "ModelMetrics.MetricControl.HistogramOptions", False, 0)],
           [("MetricIdentifier", [("family", 1, STRING)]),
            ("HistogramOptions", [("buckets", 1, DOUBLE, None, True)])],
           ["metric_options"])]),
        ("ModelConfig", [
            ("name", 1, STRING), ("platform", 2, STRING), ("backend", 17, STRING),
            ("runtime", 25, STRING),
            ("version_policy", 3, MESSAGE, _ + "ModelVersionPolicy"),
            ("max_batch_size", 4, INT32),
            ("input", 5, MESSAGE, _ + "ModelInput", True),
            ("output", 6, MESSAGE, _ + "ModelOutput", True),
            ("batch_input", 20, MESSAGE, _ + "BatchInput", True),
            ("batch_output", 21, MESSAGE, _ + "BatchOutput", True),
            ("optimization", 12, MESSAGE, _ + "ModelOptimizationPolicy"),
            ("dynamic_batching", 11, MESSAGE, _ + "ModelDynamicBatching", False, 0),
            ("sequence_batching", 13, MESSAGE, _ + "ModelSequenceBatching", False, 0),
            ("ensemble_scheduling", 15, MESSAGE, _ + "ModelEnsembling", False, 0),
            ("instance_group", 7, MESSAGE, _ + "ModelInstanceGroup", True),
            ("default_model_filename", 8, STRING),
            ("cc_model_filenames", 9) + _STRINGS,
            ("metric_tags", 10) + _STRINGS,
            ("parameters", 14, "map", (STRING, _ + "ModelParameter")),
            ("model_warmup", 16, MESSAGE, _ + "ModelWarmup", True),
            ("model_operations", 18, MESSAGE, _ + "ModelOperations"),
            ("model_transaction_policy", 19, MESSAGE, _ + "ModelTransactionPolicy"),
            ("model_repository_agents", 23, MESSAGE, _ + "ModelRepositoryAgents"),
            ("response_cache", 24, MESSAGE, _ + "ModelResponseCache"),
            ("model_metrics", 26, MESSAGE, _ + "ModelMetrics")],
         [], ["scheduling_choice"]),
    ],
}

# V2 datatype of each config data type (TYPE_STRING travels as BYTES)
V2_DATATYPE = {name: name[5:] for name in DATA_TYPES[1:]}
V2_DATATYPE["TYPE_STRING"] = "BYTES"
_LOCK = threading.Lock()
_BUILT = {}  # type: Dict[str, Any]


class ConfigError(Exception):
    """config.pbtxt cannot be served; the message names the file and what is wrong."""


def model_config_class() -> Any:
    """The ModelConfig message class (its descriptor pool built once per process)."""
    with _LOCK:
        if "class" not in _BUILT:
            from google.protobuf import descriptor_pool

            pool = descriptor_pool.DescriptorPool()
            pool.AddSerializedFile(file_proto(FILE_NAME, MODEL_CONFIG).SerializeToString())
            classes = {}
            for message in MODEL_CONFIG["messages"]:
                # every class made now and held (see protocols.protos on protobuf 4.22-4.24)
                _hold(pool, pool.FindMessageTypeByName(PACKAGE + "." + message[0]), classes)
            _BUILT["classes"] = classes
            _BUILT["class"] = classes[PACKAGE + ".ModelConfig"]
        return _BUILT["class"]


def _hold(pool: Any, descriptor: Any, classes: Dict[str, Any]) -> None:
    classes[descriptor.full_name] = message_class(pool, descriptor.full_name)
    for nested in descriptor.nested_types:
        _hold(pool, nested, classes)


def parse(text: str, path: str) -> Any:
    """``config.pbtxt``'s text as a ModelConfig; ConfigError naming the field and line that
    protobuf's parser refused."""
    from google.protobuf import text_format

    config = model_config_class()()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ConfigError("%s is not a valid Triton model configuration: %s (the fields of "
                          "Triton's ModelConfig: name, backend, max_batch_size, input, output, "
                          "dynamic_batching, instance_group, parameters, ...)" % (path, exc)
                          ) from None
    return config


def read_config(path: str) -> Any:
    """The ModelConfig in the file at ``path`` (an empty one for an empty file)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigError("%s cannot be read: %s" % (path, exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("%s is not UTF-8 text: %s" % (path, exc)) from None
    return parse(text, path)


def from_dict(values: Dict[str, Any], path: str) -> Any:
    """A ModelConfig from its JSON form (what ``auto_complete_config`` returns)."""
    from google.protobuf import json_format

    config = model_config_class()()
    try:
        json_format.ParseDict(values, config)
    except json_format.ParseError as exc:
        raise ConfigError("%s: the configuration auto_complete_config returned is not a valid "
                          "Triton model configuration: %s" % (path, exc)) from None
    return config


def complete(config: Any, name: str) -> Any:
    """What Triton fills in for a Python-backend model (its configuration endpoint shows it).
    An instance group Triton adds is named after the model; one without a name is
    ``<model>_<index>``; a GPU group is served on the CPU (there is no other here)."""
    config.name = config.name or name
    if not config.platform and not config.backend:
        config.backend = "python"
    if not config.HasField("version_policy"):
        config.version_policy.latest.num_versions = 1
    if not config.HasField("optimization"):
        config.optimization.input_pinned_memory.enable = True
        config.optimization.output_pinned_memory.enable = True
    if config.HasField("dynamic_batching") and config.max_batch_size > 0 and not len(
            config.dynamic_batching.preferred_batch_size):
        config.dynamic_batching.preferred_batch_size.append(config.max_batch_size)
    if not len(config.instance_group):
        config.instance_group.add(name=config.name)
    for index, group in enumerate(config.instance_group):
        group.name = group.name or "%s_%d" % (config.name, index)
        if group.kind in (0, 1):  # KIND_AUTO, and KIND_GPU on a machine without one
            group.kind = 2  # KIND_CPU
        group.count = group.count or 1
    config.default_model_filename = config.default_model_filename or "model.py"
    return config


def as_json(config: Any) -> Dict[str, Any]:
    """Triton's JSON form of a configuration (its /config answer, the ``model_config`` string
    a model's ``initialize`` gets)."""
    return _message(config)


def _message(message: Any) -> Dict[str, Any]:
    out = {}  # type: Dict[str, Any]
    for field in message.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {str(key): _value(value_field, value)
                               for key, value in getattr(message, field.name).items()}
        elif _repeated(field):
            out[field.name] = [_value(field, value) for value in getattr(message, field.name)]
        elif field.containing_oneof is not None or field.message_type is not None:
            if message.HasField(field.name):
                out[field.name] = _value(field, getattr(message, field.name))
        else:
            out[field.name] = _value(field, getattr(message, field.name))
    return out


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 6 (label is gone in 7)
    if flag is not None:
        return bool(flag)
    return field.label == field.LABEL_REPEATED


def _value(field: Any, value: Any) -> Any:
    if field.message_type is not None:
        return _message(value)
    if field.enum_type is not None:
        found = field.enum_type.values_by_number.get(value)
        return found.name if found is not None else value
    return value


def data_type_name(value: int) -> str:
    return DATA_TYPES[value] if 0 <= value < len(DATA_TYPES) else str(value)


def v2_tensors(config: Any) -> Dict[str, List[Dict[str, Any]]]:
    """The inputs and outputs as V2 metadata, as Triton's metadata endpoint gives them."""
    batch = [-1] if config.max_batch_size > 0 else []

    def tensors(items: Any) -> List[Dict[str, Any]]:
        return [{"name": item.name, "datatype": V2_DATATYPE.get(data_type_name(item.data_type),
                                                                "BYTES"),
                 "shape": batch + [int(d) for d in item.dims]} for item in items]

    return {"inputs": tensors(config.input), "outputs": tensors(config.output)}


def check_servable(config: Any, path: str, folder_name: Optional[str] = None) -> None:
    """What modelkiln cannot serve (a clear ConfigError): another backend, a sequence-batched
    or ensemble model, inputs or outputs without a name or data type."""
    backend = config.backend or ("python" if not config.platform else config.platform)
    if backend != "python":
        raise ConfigError("%s: backend %r: modelkiln serves Triton's Python backend only "
                          "(backend: \"python\" and a model.py)" % (path, backend))
    for kind in ("sequence_batching", "ensemble_scheduling"):
        if config.HasField(kind):
            raise ConfigError("%s: %s is not served by modelkiln (only dynamic_batching or "
                              "no scheduler)" % (path, kind))
    if config.max_batch_size < 0:
        raise ConfigError("%s: max_batch_size must be 0 or more, got %d"
                          % (path, config.max_batch_size))
    for what, items in (("input", config.input), ("output", config.output)):
        for index, item in enumerate(items):
            if not item.name:
                raise ConfigError("%s: %s %d has no name" % (path, what, index))
            if item.data_type in (0, 14):  # TYPE_INVALID, TYPE_BF16 (no numpy type)
                raise ConfigError("%s: %s %r has data_type %s, which modelkiln cannot serve"
                                  % (path, what, item.name, data_type_name(item.data_type)))
            if any(d < -1 for d in item.dims):
                raise ConfigError("%s: %s %r has dims %s: each is -1 (any size) or more"
                                  % (path, what, item.name, list(item.dims)))
    if folder_name and config.name and config.name != folder_name:
        raise ConfigError("%s: name is %r, but the model's folder is %r (Triton needs them to "
                          "be the same)" % (path, config.name, folder_name))
