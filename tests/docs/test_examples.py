"""Every code example on the pages that can run is run, against a live server of
``templates/model-template-app``.

A runnable block is a fenced block preceded by a marker comment::

    <!-- test: sh; status: 200; contains: "names":["setosa" -->

- ``sh``: run with bash; every ``curl`` prints its status, which must equal ``status`` (one
  per curl, in order); ``python``: run with the docs virtualenv's interpreter, exit code 0;
  ``grpcurl``: each grpcurl command is run by an equivalent grpcio client that reads the
  message types from the server's reflection service (grpcurl is not installed here);
- ``contains``: text the output must hold (the marker may repeat it);
- ``setup``: a named fixture the block needs (``iris-jsonl``, ``iris-csv``, ``modzy-job``).

A block that calls the server but cannot run here says why instead:
``<!-- not run: REASON -->``; an example that calls the server with neither marker fails
``test_every_example_that_calls_a_server_is_run``.

The ports and paths the pages show (9000, 5000, 6000, 8080 on 127.0.0.1; ``.venv/bin/``;
``templates/``) are replaced by the test server's and this checkout's.
"""

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List, NamedTuple

import pytest

from tests.python_runtime.live import LiveServer, free_port

from .conftest import DOCS_VENV, REPO, docs_python

DOCS = REPO / "docs"
TEMPLATE = REPO / "templates" / "model-template-app"
MARKED = re.compile(r"<!-- test: (.*?) -->\n```(\w+)[^\n]*\n(.*?)\n```", re.S)
BLOCK = re.compile(r"(<!-- (test|not run): [^\n]*-->\n)?```(\w+)[^\n]*\n(.*?)\n```", re.S)
CALLS_A_SERVER = re.compile(r"127\.0\.0\.1|import tritonclient|^grpcurl ", re.M)
KINDS = ("sh", "python", "grpcurl")
MESSAGE = {"data": {"names": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                    "ndarray": [[5.1, 3.5, 1.4, 0.2]]}}


class Example(NamedTuple):
    page: str
    number: int
    kind: str
    options: Dict[str, List[str]]
    code: str

    @property
    def id(self) -> str:
        return "%s#%d" % (self.page, self.number)


def parse_marker(text: str) -> Dict[str, List[str]]:
    parts = [part.strip() for part in text.split(";")]
    options = {"kind": [parts[0]]}  # type: Dict[str, List[str]]
    for part in parts[1:]:
        key, _, value = part.partition(":")
        options.setdefault(key.strip(), []).append(value.strip())
    return options


def examples() -> List[Example]:
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        for number, match in enumerate(MARKED.finditer(path.read_text()), 1):
            options = parse_marker(match.group(1))
            found.append(Example(str(path.relative_to(DOCS)), number, options["kind"][0],
                                 options, match.group(3)))
    return found


EXAMPLES = examples()


def test_the_pages_have_runnable_examples_of_every_kind():
    assert {e.kind for e in EXAMPLES} == set(KINDS), [e.id for e in EXAMPLES]
    assert len(EXAMPLES) >= 15, len(EXAMPLES)
    for example in EXAMPLES:
        assert example.options.get("contains") or example.options.get("status"), example.id


def test_every_example_that_calls_a_server_is_run():
    unmarked = []
    for path in sorted(DOCS.rglob("*.md")):
        for match in BLOCK.finditer(path.read_text()):
            if not match.group(1) and CALLS_A_SERVER.search(match.group(4)):
                unmarked.append("%s: %s" % (path.relative_to(DOCS), match.group(4)[:60]))
    assert not unmarked, "mark these with <!-- test: ... --> or <!-- not run: why -->: %s" \
        % unmarked


@pytest.fixture(scope="module")
def server():
    docs_python()
    live = LiveServer(str(TEMPLATE), env={"PSC_MODEL_PORT": str(free_port())})
    live.modzy_port = int(live.env["PSC_MODEL_PORT"])
    live.start()
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


def localise(code: str, server: LiveServer) -> str:
    for shown, port in (("9000", server.http_port), ("5000", server.grpc_port),
                        ("6000", server.metrics_port), ("8080", server.modzy_port)):
        code = code.replace("127.0.0.1:%s" % shown, "127.0.0.1:%d" % port)
    code = code.replace(".venv/bin/", "%s/bin/" % DOCS_VENV)
    return re.sub(r"(?<![\w/])templates/", str(REPO / "templates") + "/", code)


def set_up(names: List[str], workdir: Path, code: str) -> str:
    for name in names:
        if name == "iris-jsonl":
            (workdir / "in.jsonl").write_text("\n".join(json.dumps(MESSAGE) for _ in range(3)))
        elif name == "iris-csv":
            rows = [",".join(MESSAGE["data"]["names"])] + ["5.1,3.5,1.4,0.2"] * 3
            (workdir / "in.csv").write_text("\n".join(rows) + "\n")
        elif name == "modzy-job":
            job = workdir / "job"
            job.mkdir()
            (job / "input.json").write_text(json.dumps(MESSAGE))
            code = code.replace("/data/job", str(job))
        else:
            raise AssertionError("unknown setup %r" % name)
    return code


def run_sh(code: str, workdir: Path) -> str:
    script = ("set -euo pipefail\n"
              "curl() { command curl -sS -w '\\n--> %{http_code}\\n' \"$@\"; }\n" + code + "\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "NO_PROXY": "*"}
    done = subprocess.run(["bash", "-c", script], cwd=str(workdir), env=env, timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, (output, done.stderr.decode(errors="replace"))
    return output


def run_python(code: str, workdir: Path) -> str:
    (workdir / "example.py").write_text(code)
    done = subprocess.run([docs_python(), "example.py"], cwd=str(workdir), timeout=120,
                          env={"PATH": "/usr/bin:/bin", "NO_PROXY": "*",
                               "no_proxy": "*"},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, (output, done.stderr.decode(errors="replace"))
    return output


def grpcurl(argv: List[str]) -> str:
    """What ``grpcurl -plaintext [-d JSON] ADDRESS (list | SERVICE/METHOD)`` prints, done with
    grpcio and the server's reflection service."""
    import grpc
    from google.protobuf import descriptor_pool, json_format
    from google.protobuf.message_factory import GetMessageClass
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import \
        ProtoReflectionDescriptorDatabase

    assert argv[0] == "grpcurl", argv
    args, data = argv[1:], None
    positional = []
    while args:
        arg = args.pop(0)
        if arg == "-plaintext":
            continue
        if arg == "-d":
            data = args.pop(0)
        elif arg.startswith("-"):
            raise AssertionError("the test's grpcurl stand-in does not know %s" % arg)
        else:
            positional.append(arg)
    address, verb = positional[0], positional[1:]
    with grpc.insecure_channel(address) as channel:
        reflection = ProtoReflectionDescriptorDatabase(channel)
        if verb == ["list"]:
            return "\n".join(sorted(reflection.get_services())) + "\n"
        assert len(verb) == 1 and "/" in verb[0], verb
        service_name, method_name = verb[0].rsplit("/", 1)
        pool = descriptor_pool.DescriptorPool(reflection)
        method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
        request_class = GetMessageClass(method.input_type)
        response_class = GetMessageClass(method.output_type)
        request = json_format.Parse(data or "{}", request_class())
        call = channel.unary_unary("/%s/%s" % (service_name, method_name),
                                   request_serializer=request_class.SerializeToString,
                                   response_deserializer=response_class.FromString)
        return json_format.MessageToJson(call(request, timeout=30)) + "\n"


def run_grpcurl(code: str) -> str:
    commands = code.replace("\\\n", " ").splitlines()
    return "".join(grpcurl(shlex.split(line)) for line in commands if line.strip())


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example(example, server, tmp_path):
    code = set_up(example.options.get("setup", []), tmp_path,
                  localise(example.code, server))
    if example.kind == "sh":
        output = run_sh(code, tmp_path)
    elif example.kind == "python":
        output = run_python(code, tmp_path)
    elif example.kind == "grpcurl":
        output = run_grpcurl(code)
    else:
        raise AssertionError("%s: unknown kind %r" % (example.id, example.kind))
    if "status" in example.options:
        wanted = [s.strip() for s in ",".join(example.options["status"]).split(",")]
        assert re.findall(r"^--> (\d{3})$", output, re.M) == wanted, output
    for text in example.options.get("contains", []):
        assert text in output, (text, output)
    if "modzy-job" in example.options.get("setup", []):
        assert json.loads((tmp_path / "job" / "results.json").read_text())["data"]["names"] \
            == ["setosa", "versicolor", "virginica"]
