"""The gRPC port with clients and a proxy this project did not write: grpc-js (Node's HTTP/2,
nghttp2) from npm, and Debian's nginx with ``grpc_pass`` in front (with upstream keepalive),
grpcio behind it. Skipped where node/npm or nginx is not installed.

grpc-js is installed once into ~/.cache/modelkiln/grpc-js-<version> with npm.
"""

import json
import os
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from ..python_runtime import live
from .h2client import (PREDICT, RawH2, SeldonMessage, grpc_message, predict_request, rapid_reset)

pytestmark = pytest.mark.slow

GRPC_JS = "1.14.7"
CLIENT = Path(__file__).resolve().parent / "grpcjs" / "client.js"
UNKNOWN = "/seldon.protos.Model/Nope"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = live.LiveServer("fuzzecho", "FuzzEcho", env={
        "MODELKILN_GRPC_MAX_MESSAGE_SIZE": "16m"},
        workdir=str(tmp_path_factory.mktemp("interop")))
    server.start()
    server.wait_ready()
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log_tail()


def big_request(size: int) -> bytes:
    message = SeldonMessage()
    message.binData = os.urandom(size)
    return message.SerializeToString()


# -- grpc-js ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grpc_js() -> str:
    """The folder holding node_modules/@grpc/grpc-js (installed once)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the grpc-js client: run `make "
                    "reliability-tools`", pytrace=False)
    prefix = Path.home() / ".cache" / "modelkiln" / ("grpc-js-" + GRPC_JS)
    if not (prefix / "node_modules" / "@grpc" / "grpc-js" / "package.json").exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                        "@grpc/grpc-js@" + GRPC_JS], check=True, timeout=600,
                       stdout=subprocess.DEVNULL)
    return str(prefix / "node_modules")


def run_js(node_path: str, port: int, calls: list) -> list:
    done = subprocess.run(["node", str(CLIENT), "127.0.0.1:%d" % port],
                          input=json.dumps(calls).encode(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120,
                          env=dict(os.environ, NODE_PATH=node_path))
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_grpc_js_client(server, grpc_js):
    small = predict_request([1.5, 2.5])
    big = big_request(8 << 20)
    small_call, gzip_call, many, large, unknown = run_js(grpc_js, server.grpc_port, [
        {"path": PREDICT, "request": small.hex()},
        {"path": PREDICT, "request": small.hex(), "gzip": True},
        {"path": PREDICT, "request": small.hex(), "count": 100},
        {"path": PREDICT, "request": big.hex()},
        {"path": UNKNOWN, "request": small.hex()},
    ])
    for result in (small_call, gzip_call, many):
        assert result["ok"], result
        (answer,) = result["answers"]
        assert list(SeldonMessage.FromString(bytes.fromhex(answer)).data.tensor.values) == [
            1.5, 2.5]
    assert len(many["codes"]) == 100
    assert large["ok"] and SeldonMessage.FromString(
        bytes.fromhex(large["answers"][0])).binData == SeldonMessage.FromString(big).binData
    assert unknown["codes"] == [grpc.StatusCode.UNIMPLEMENTED.value[0]]
    assert "unknown method" in unknown["details"][0]


# -- nginx grpc_pass --------------------------------------------------------------------------

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 64m;
    upstream modelkiln {{
        server 127.0.0.1:{upstream};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{ grpc_pass grpc://modelkiln; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(server, tmp_path_factory):
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                       else None)
    if binary is None:
        pytest.fail("Debian's nginx is needed for the grpc_pass rows: run `make "
                    "reliability-tools`", pytrace=False)
    prefix = tmp_path_factory.mktemp("nginx")
    port = live.free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, upstream=server.grpc_port, port=port))
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf), "-g", "user root;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        live.wait_for(lambda: _listening(port) or proc.poll() is not None, 20, "nginx")
        assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _predict(port: int, request: bytes, path: str = PREDICT, **options):
    with grpc.insecure_channel("127.0.0.1:%d" % port, options=[
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20)]) as channel:
        stub = channel.unary_unary(path, request_serializer=lambda raw: raw,
                                   response_deserializer=SeldonMessage.FromString)
        return stub(request, timeout=30, **options)


def test_grpcio_through_nginx_grpc_pass(server, nginx):
    answer = _predict(nginx, predict_request([3.0, 4.0]))
    assert list(answer.data.tensor.values) == [3.0, 4.0]
    answer = _predict(nginx, predict_request([3.0, 4.0]), compression=grpc.Compression.Gzip)
    assert list(answer.data.tensor.values) == [3.0, 4.0]
    big = big_request(8 << 20)
    assert _predict(nginx, big).binData == SeldonMessage.FromString(big).binData
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: _predict(nginx, predict_request([float(i)])),
                                range(200)))
    assert [list(answer.data.tensor.values) for answer in answers] == [
        [float(i)] for i in range(200)]
    with pytest.raises(grpc.RpcError) as caught:
        _predict(nginx, predict_request(), path=UNKNOWN)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    time.sleep(0.2)
    assert "Traceback" not in server.log()


def test_rapid_reset_through_nginx_runs_few_calls(server, nginx):
    """Issue 32 measured 899 of 5,000 reset calls run through nginx before the fix."""
    def ran() -> float:
        return sum(live.metric_values(server.scrape(), "modelkiln_grpc_requests_total",
                                      method=PREDICT))

    before = ran()
    conn = RawH2(nginx)
    message = grpc_message(predict_request())
    rapid_reset(conn, message)
    conn.goaway(3)
    time.sleep(2)
    assert ran() - before <= 100
    assert list(_predict(nginx, predict_request([5.0])).data.tensor.values) == [5.0]
