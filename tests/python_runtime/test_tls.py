"""HTTPS and gRPC TLS from a mounted certificate (MODELKILN_TLS_CERT / _KEY), with and without
client certificates (MODELKILN_TLS_CLIENT_CA). The certificates are made here with the openssl
command-line tool (a test-only need; skipped where it is missing, as in the py36 image)."""

import json
import re
import shutil
import socket
import subprocess
import time

import pytest
import requests

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command-line tool is not installed")]

BODY = {"data": {"ndarray": [[1, 2]]}}
ANSWER = {"data": {"names": ["t:0", "t:1"], "ndarray": [[1, 2]]}, "meta": {}}


def openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=str(cwd), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def openssl_version():
    out = subprocess.run(("openssl", "version"), check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout  # "OpenSSL 3.0.17 1 Jul 2025"
    return tuple(int(part) for part in re.findall(r"\d+", out.split()[1])[:2])


def make_ca(folder, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=%s" % name, "-keyout", name + ".key", "-out", name + ".pem", cwd=folder)


def make_signed(folder, name, ca, server):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", name + ".key", "-out", name + ".csr", cwd=folder)
    extensions = folder / (name + ".ext")
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n" if server
                          else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem",
            cwd=folder)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("certs")
    make_ca(folder, "ca")
    make_ca(folder, "other-ca")
    make_signed(folder, "server", "ca", server=True)
    make_signed(folder, "client", "ca", server=False)
    make_signed(folder, "stranger", "other-ca", server=False)
    return folder


def tls_env(certs, client_ca=False):
    env = {"MODELKILN_TLS_CERT": str(certs / "server.pem"),
           "MODELKILN_TLS_KEY": str(certs / "server.key")}
    if client_ca:
        env["MODELKILN_TLS_CLIENT_CA"] = str(certs / "ca.pem")
    return env


def https(server, path, port=None):
    return "https://127.0.0.1:%d%s" % (port or server.http_port, path)


@pytest.mark.parametrize("threads", ["1", "2"], ids=["loop", "threads"])
def test_https_with_the_server_certificate(serve, certs, threads):
    server = serve("echo", "Echo", env=dict(tls_env(certs), GUNICORN_THREADS=threads),
                   ready=False)
    ca = str(certs / "ca.pem")
    live.wait_for(lambda: _ready(server, ca), live.READY_TIMEOUT, "HTTPS /ready")
    with requests.Session() as session:  # keep-alive over TLS
        for _ in range(3):
            answer = session.post(https(server, "/predict"), json=BODY, verify=ca, timeout=30)
            assert answer.status_code == 200 and answer.json() == ANSWER, answer.text
    metrics = requests.get(https(server, "/metrics", server.metrics_port), verify=ca, timeout=30)
    assert metrics.status_code == 200 and "modelkiln_http_requests_total" in metrics.text
    # A client that does not trust the issuer refuses the server.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(https(server, "/ready"), verify=str(certs / "other-ca.pem"), timeout=30)
    # Plain HTTP to the TLS port gets a plain 400 that names HTTPS, and the server carries on.
    plain = requests.get(server.url("/ready"), timeout=10)
    assert plain.status_code == 400 and "https://" in plain.json()["status"]["info"], plain.text
    assert plain.headers["Connection"] == "close"
    assert requests.get(https(server, "/ready"), verify=ca, timeout=30).status_code == 200


def _ready(server, ca, cert=None):
    try:
        return requests.get(https(server, "/ready"), verify=ca, cert=cert,
                            timeout=5).status_code == 200
    except requests.exceptions.RequestException:
        return False


def test_client_certificate_required(serve, certs):
    server = serve("echo", "Echo", env=tls_env(certs, client_ca=True), ready=False)
    ca = str(certs / "ca.pem")
    client = (str(certs / "client.pem"), str(certs / "client.key"))
    live.wait_for(lambda: _ready(server, ca, client), live.READY_TIMEOUT,
                  "HTTPS /ready with a client certificate")
    answer = requests.post(https(server, "/predict"), json=BODY, verify=ca, cert=client,
                           timeout=30)
    assert answer.status_code == 200 and answer.json() == ANSWER, answer.text
    for cert in (None, (str(certs / "stranger.pem"), str(certs / "stranger.key"))):
        with pytest.raises(requests.exceptions.ConnectionError):  # SSLError included
            requests.post(https(server, "/predict"), json=BODY, verify=ca, cert=cert,
                          timeout=30)
    assert server.alive()


def test_slow_tls_handshake_hits_the_header_deadline(serve, certs):
    server = serve("echo", "Echo", env=dict(tls_env(certs), MODELKILN_HEADER_TIMEOUT="1"),
                   ready=False)
    ca = str(certs / "ca.pem")
    live.wait_for(lambda: _ready(server, ca), live.READY_TIMEOUT, "HTTPS /ready")
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        try:
            data = sock.recv(100)
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - started
    assert data == b"" and 0.9 <= elapsed <= 3.5, (data, elapsed)  # closed at the deadline
    assert _ready(server, ca)


def test_grpc_over_tls(serve, certs):
    grpc = pytest.importorskip("grpc")
    from google.protobuf import json_format

    from python_runtime.protocols import protos as protos_module

    server = serve("echo", "Echo", env=tls_env(certs), ready=False)
    ca = str(certs / "ca.pem")
    live.wait_for(lambda: _ready(server, ca), live.READY_TIMEOUT, "HTTPS /ready")
    message = protos_module.load().message("seldon.protos.SeldonMessage")
    credentials = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes())
    with grpc.secure_channel("127.0.0.1:%d" % server.grpc_port, credentials) as channel:
        predict = channel.unary_unary("/seldon.protos.Model/Predict",
                                      request_serializer=message.SerializeToString,
                                      response_deserializer=message.FromString)
        answer = predict(json_format.ParseDict(BODY, message()), timeout=30)
    assert json.loads(json_format.MessageToJson(answer))["data"]["ndarray"] == [[1.0, 2.0]]


def test_tls_settings_must_come_together(certs, tmp_path):
    from python_runtime.settings import Settings, SettingsError

    for environ, fragment in (
            ({"MODELKILN_TLS_CERT": str(certs / "server.pem")}, "go together"),
            ({"MODELKILN_TLS_CLIENT_CA": str(certs / "ca.pem")}, "needs MODELKILN_TLS_CERT"),
            (dict(tls_env(certs), MODELKILN_TLS_KEY=str(tmp_path / "missing.key")),
             "no readable file")):
        with pytest.raises(SettingsError) as info:
            Settings.load(["Echo"], environ=environ, read_annotations=False)
        assert fragment in str(info.value)


# -- TLS mistakes stop the start, in the master, with one line naming the variable -----------

@pytest.fixture(scope="module")
def bad_files(certs):
    """Files a user may mount by mistake, beside the good ones."""
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret",
            "-out", "encrypted.key", cwd=certs)
    # The old "BEGIN RSA PRIVATE KEY" + DEK-Info form: OpenSSL 3 writes it with -traditional,
    # 1.1.1 (the py36 image's) by default and has no such option.
    traditional = () if openssl_version() < (3,) else ("-traditional",)
    openssl("rsa", "-in", "server.key", "-aes256", "-passout", "pass:secret", *traditional,
            "-out", "encrypted-rsa.key", cwd=certs)
    assert "Proc-Type: 4,ENCRYPTED" in (certs / "encrypted-rsa.key").read_text()
    openssl("x509", "-in", "server.pem", "-outform", "DER", "-out", "server.der", cwd=certs)
    openssl("pkey", "-in", "server.key", "-outform", "DER", "-out", "server-key.der", cwd=certs)
    (certs / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n"
                                      "-----END CERTIFICATE-----\n")
    return certs


TLS_MISTAKES = [
    # id, the files (relative to the certificates folder), what the ERROR line must say
    ("key-of-another-cert", {"MODELKILN_TLS_KEY": "client.key"},
     ["MODELKILN_TLS_KEY=", "client.key is not the private key of MODELKILN_TLS_CERT=",
      "mount the key that was made with this certificate"]),
    ("encrypted-pkcs8-key", {"MODELKILN_TLS_KEY": "encrypted.key"},
     ["MODELKILN_TLS_KEY=", "encrypted.key is encrypted", "provide an unencrypted key"]),
    ("encrypted-rsa-key", {"MODELKILN_TLS_KEY": "encrypted-rsa.key"},
     ["MODELKILN_TLS_KEY=", "encrypted-rsa.key is encrypted", "provide an unencrypted key"]),
    ("der-certificate", {"MODELKILN_TLS_CERT": "server.der"},
     ["MODELKILN_TLS_CERT=", "server.der is not a PEM certificate", "openssl x509 -inform DER"]),
    ("der-key", {"MODELKILN_TLS_KEY": "server-key.der"},
     ["MODELKILN_TLS_KEY=", "server-key.der is not a PEM private key", "openssl pkey"]),
    ("broken-pem-certificate", {"MODELKILN_TLS_CERT": "broken.pem"},
     ["MODELKILN_TLS_CERT=", "broken.pem with MODELKILN_TLS_KEY=", "cannot be loaded",
      "give a PEM certificate (chain) and its own unencrypted PEM private key"]),
    ("ca-is-a-key", {"MODELKILN_TLS_CLIENT_CA": "server.key"},
     ["MODELKILN_TLS_CLIENT_CA=", "holds no usable PEM CA certificate",
      "mount the certificate(s) of the CA"]),
    ("ca-missing", {"MODELKILN_TLS_CLIENT_CA": "no-such-ca.pem"},
     ["MODELKILN_TLS_CLIENT_CA=", "no-such-ca.pem: no readable file there", "mount the secret"]),
    ("key-is-a-folder", {"MODELKILN_TLS_KEY": "."},
     ["MODELKILN_TLS_KEY=", "no readable file there"]),
]


def mistaken_env(certs, files):
    env = tls_env(certs)
    env.update({name: str(certs / path) for name, path in files.items()})
    return env


@pytest.mark.parametrize("files, words", [c[1:] for c in TLS_MISTAKES],
                         ids=[c[0] for c in TLS_MISTAKES])
def test_a_tls_mistake_is_a_settings_error_naming_the_variable(bad_files, files, words):
    from python_runtime.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as info:
        Settings.load(["Echo"], environ=mistaken_env(bad_files, files), read_annotations=False)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    for text in words:
        assert text in message, (text, message)


def test_relative_tls_paths_are_taken_from_the_app_folder(certs, tmp_path, monkeypatch):
    from python_runtime.settings import Settings, SettingsError

    app = tmp_path / "app"
    (app / "secrets").mkdir(parents=True)
    for name in ("server.pem", "server.key", "ca.pem"):
        (app / "secrets" / name).write_bytes((certs / name).read_bytes())
    monkeypatch.chdir(str(tmp_path))  # another folder: the app folder decides, not the cwd
    environ = {"MODEL_NAME": "Echo", "MODELKILN_TLS_CERT": "secrets/server.pem",
               "MODELKILN_TLS_KEY": "secrets/server.key",
               "MODELKILN_TLS_CLIENT_CA": "secrets/ca.pem"}
    settings = Settings.load([str(app)], environ=environ, read_annotations=False)
    assert (settings.tls_cert, settings.tls_key, settings.tls_client_ca) == (
        str(app / "secrets" / "server.pem"), str(app / "secrets" / "server.key"),
        str(app / "secrets" / "ca.pem"))
    with pytest.raises(SettingsError) as info:
        Settings.load([str(app)], environ=dict(environ, MODELKILN_TLS_KEY="server.key"),
                      read_annotations=False)
    assert str(info.value) == (
        "MODELKILN_TLS_KEY=server.key: no readable file there (%s; a relative path is taken "
        "from the app folder %s): mount the secret, or give the file's absolute path"
        % (app / "server.key", app))


def test_a_tls_mistake_stops_the_start_with_one_error_line(serve, bad_files):
    server = serve("echo", "Echo", ready=False,
                   env=mistaken_env(bad_files, {"MODELKILN_TLS_KEY": "encrypted.key"}))
    assert server.wait_exit(60) == 2, server.log_tail()
    stderr = server.stderr()
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "MODELKILN_TLS_KEY=" in errors[0], stderr
    assert "is encrypted" in errors[0] and "provide an unencrypted key" in errors[0]
    assert "Traceback" not in server.log() and "Booting worker" not in server.log(), stderr
