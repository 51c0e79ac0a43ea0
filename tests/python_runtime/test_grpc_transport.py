"""The gRPC port's own transport (``python_runtime.transport.http2`` and ``grpc_server``) on a live
server, with grpcio as the client: server reflection, compression, flow control both ways,
many calls on one connection, size limits, and clients that do not speak gRPC at all.

App: ``apps/fuzzecho`` (answers every input with itself).
"""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import requests
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from python_runtime.protocols import protos as protos_module

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

pytestmark = pytest.mark.slow

PROTOS = protos_module.load()
SeldonMessage = PROTOS.message("seldon.protos.SeldonMessage")
PREDICT = "/seldon.protos.Model/Predict"


def channel(port, **options):
    return grpc.insecure_channel("127.0.0.1:%d" % port, options=[
        ("grpc.use_local_subchannel_pool", 1),
        ("grpc.max_receive_message_length", 64 << 20),
        ("grpc.max_send_message_length", 64 << 20)], **options)


def predict(chan, message, timeout=30):
    stub = chan.unary_unary(PREDICT, request_serializer=SeldonMessage.SerializeToString,
                            response_deserializer=SeldonMessage.FromString)
    return stub(message, timeout=timeout)


def error_of(thunk):
    with pytest.raises(grpc.RpcError) as caught:
        thunk()
    return caught.value.code(), caught.value.details()


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    server = live.LiveServer("fuzzecho", "FuzzEcho", env={
        "MODELKILN_GRPC_MAX_MESSAGE_SIZE": "16m", "MODELKILN_HEADER_TIMEOUT": "1"},
        workdir=str(tmp_path_factory.mktemp("echo")))
    server.start()
    server.wait_ready()
    yield server
    server.stop()


def test_reflection_describes_the_services_to_a_generic_client(echo):
    """What grpcurl does: list the services, fetch the file of one, build the message classes
    from it and call the method with them."""
    with channel(echo.grpc_port) as chan:
        database = ProtoReflectionDescriptorDatabase(chan)
        services = set(database.get_services())
        assert {"seldon.protos.Model", "seldon.protos.Seldon", "inference.GRPCInferenceService",
                "grpc.reflection.v1alpha.ServerReflection",
                "grpc.reflection.v1.ServerReflection"} <= services
        pool = descriptor_pool.DescriptorPool(database)
        method = pool.FindServiceByName("seldon.protos.Model").FindMethodByName("Predict")
        assert method.input_type.full_name == "seldon.protos.SeldonMessage"
        assert method.input_type.fields_by_name["binData"].number == 4
        infer = pool.FindServiceByName("inference.GRPCInferenceService").FindMethodByName(
            "ModelInfer")
        assert infer.input_type.fields_by_name["raw_input_contents"].number == 7
        get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.21
        cls = (get_class(method.input_type) if get_class is not None
               else message_factory.MessageFactory(pool).GetPrototype(method.input_type))
        request = cls()
        json_format.ParseDict({"strData": "from reflection"}, request)
        stub = chan.unary_unary(PREDICT, request_serializer=cls.SerializeToString,
                                response_deserializer=cls.FromString)
        answer = json_format.MessageToDict(stub(request, timeout=30))
        assert answer["strData"] == "from reflection"
        with pytest.raises(KeyError):
            database.FindFileContainingSymbol("no.such.Service")


def test_reflection_v1_lists_the_services(echo):
    request_class = PROTOS.message("grpc.reflection.v1.ServerReflectionRequest")
    response_class = PROTOS.message("grpc.reflection.v1.ServerReflectionResponse")
    with channel(echo.grpc_port) as chan:
        stream = chan.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString)
        answers = list(stream(iter([request_class(list_services=""),
                                    request_class(file_by_filename="nope.proto")]), timeout=30))
    assert len(answers) == 2
    names = [service.name for service in answers[0].list_services_response.service]
    assert names == sorted(names) and "seldon.protos.Model" in names
    assert answers[1].error_response.error_code == 5  # NOT_FOUND
    assert "nope.proto" in answers[1].error_response.error_message


@pytest.mark.parametrize("compression", [grpc.Compression.Gzip, grpc.Compression.Deflate])
def test_compressed_requests_are_answered(echo, compression):
    with channel(echo.grpc_port, compression=compression) as chan:
        answer = predict(chan, SeldonMessage(strData="x" * 100000))
    assert answer.strData == "x" * 100000


def test_large_messages_both_ways_pass_flow_control(echo):
    """8 MiB in and back: over HTTP/2's default 64 KiB windows and this server's 4 MiB one."""
    payload = bytes(range(256)) * (8 << 12)
    with channel(echo.grpc_port) as chan:
        answer = predict(chan, SeldonMessage(binData=payload))
    assert answer.binData == payload


def test_a_message_over_the_limit_is_refused_and_the_connection_still_serves(echo):
    with channel(echo.grpc_port) as chan:
        code, details = error_of(lambda: predict(chan, SeldonMessage(binData=b"x" * (17 << 20))))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "over the limit of 16777216" in details
        assert "MODELKILN_GRPC_MAX_MESSAGE_SIZE" in details
        assert predict(chan, SeldonMessage(strData="after")).strData == "after"


def test_many_calls_at_once_on_one_connection(echo):
    with channel(echo.grpc_port) as chan:
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(
                lambda i: predict(chan, SeldonMessage(strData="call %d" % i)).strData,
                range(200)))
    assert answers == ["call %d" % i for i in range(200)]


def test_unknown_method_is_unimplemented(echo):
    with channel(echo.grpc_port) as chan:
        stub = chan.unary_unary("/seldon.protos.Model/Nope")
        code, details = error_of(lambda: stub(b"", timeout=30))
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert "unknown method /seldon.protos.Model/Nope" in details


def test_http1_request_on_the_grpc_port_is_told_what_the_port_is(echo):
    answer = requests.get("http://127.0.0.1:%d/api/v1.0/predictions" % echo.grpc_port,
                          timeout=10)
    assert answer.status_code == 400
    assert "this port serves gRPC (HTTP/2)" in answer.text


def test_a_connection_that_sends_no_preface_is_closed(echo):
    """MODELKILN_HEADER_TIMEOUT (1 s here) bounds the wait for HTTP/2's preface."""
    sock = socket.create_connection(("127.0.0.1", echo.grpc_port), timeout=10)
    started = time.monotonic()
    try:
        received = sock.recv(4096)  # the server speaks only after the client's preface
    finally:
        sock.close()
    assert 0.9 < time.monotonic() - started < 5
    assert received == b""


def test_garbage_after_the_preface_ends_that_connection_only(echo):
    sock = socket.create_connection(("127.0.0.1", echo.grpc_port), timeout=10)
    try:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x09\x00\x00\x00\x00\x00")
        received = live.read_until_closed(sock)
    finally:
        sock.close()
    # SETTINGS, WINDOW_UPDATE, then GOAWAY (type 7) with PROTOCOL_ERROR (1): a CONTINUATION
    # that continues nothing
    goaway = received.rindex(b"\x07\x00\x00\x00\x00\x00")
    assert received[goaway + 10:goaway + 14] == b"\x00\x00\x00\x01"
    with channel(echo.grpc_port) as chan:
        assert predict(chan, SeldonMessage(strData="still here")).strData == "still here"


@pytest.mark.parametrize("threads, serial", [("4", False), ("1", True)])
def test_calls_overlap_only_when_the_model_takes_concurrent_calls(serve, tmp_path, threads,
                                                                   serial):
    """GUNICORN_THREADS=4: gRPC calls run on GRPC_THREADS threads, side by side; 1 (the
    default): one at a time on the worker's gRPC thread, as its REST calls."""
    server = serve("slowpredict", "SlowPredict", env={
        "GUNICORN_THREADS": threads, "GRPC_THREADS": "4",
        "PREDICTIVE_UNIT_PARAMETERS": live.parameters(started_path=str(tmp_path / "started"),
                                                      seconds=0.5)})
    request = SeldonMessage()
    json_format.ParseDict({"data": {"ndarray": [[1, 2]]}}, request)
    started = time.monotonic()
    with channel(server.grpc_port) as chan:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _: predict(chan, request), range(4)))
    elapsed = time.monotonic() - started
    assert [json_format.MessageToDict(a)["data"]["ndarray"] for a in answers] == [
        [[10.0, 20.0]]] * 4
    if serial:
        assert elapsed >= 2.0, elapsed
    else:
        assert elapsed < 1.8, elapsed


def test_a_second_server_on_the_same_grpc_port_stops_naming_the_port(echo, tmp_path):
    """The workers' listeners share the port by SO_REUSEPORT; without the master's check a
    second server of the same user would silently take part of the first one's calls."""
    second = live.LiveServer("fuzzecho", "FuzzEcho", workdir=str(tmp_path))
    second.grpc_port = echo.grpc_port
    second.start()
    try:
        assert second.wait_exit(30) == 2
        assert ("the gRPC port 0.0.0.0:%d is already in use" % echo.grpc_port
                in second.stderr()), second.log_tail()
        assert "PREDICTIVE_UNIT_GRPC_SERVICE_PORT" in second.stderr()
    finally:
        second.stop()
    with channel(echo.grpc_port) as chan:
        assert predict(chan, SeldonMessage(strData="first")).strData == "first"


def test_grpc_port_equal_to_the_rest_port_is_refused(tmp_path):
    server = live.LiveServer("fuzzecho", "FuzzEcho", workdir=str(tmp_path))
    server.grpc_port = server.http_port
    server.start()
    try:
        assert server.wait_exit(30) == 2
        assert "is also the REST, metrics or Modzy port" in server.stderr(), server.log_tail()
    finally:
        server.stop()
