"""``modelkiln test-image TAG --app DIR``: run an app image and check its example answers.

The app's ``examples.json`` lists requests and the answers they must get::

    {"examples": [{"name": "predict", "path": "/api/v1.0/predictions",
                   "body": {"data": {"ndarray": [[1, 2]]}},
                   "status": 200, "response": {...}, "tolerance": 1e-9}]}

``method`` defaults to POST (GET without a body), ``send`` to ``json`` (``form`` sends
``json=<body>``). Numbers are compared exactly unless ``tolerance`` (relative) is given.
The container runs as a non-root UID (random unless ``--user``), with its REST port published
on 127.0.0.1 only; it is stopped with SIGTERM at the end and must exit 0.
"""

import json
import math
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from .engine import connect
from .errors import CliError

REST_PORT = "9000/tcp"


def rest_port(app_dir: str) -> str:
    """The REST port the image's server listens on for this app folder (9000, or 9090 for a
    catwalk folder), as ``docker`` names it."""
    from python_runtime.model.formats import resolve
    from python_runtime.settings import Settings, SettingsError

    try:
        settings = resolve(Settings.load([app_dir], environ={}, read_annotations=False))[0]
    except SettingsError:
        return REST_PORT  # the image's own start reports what is wrong
    return "%d/tcp" % settings.http_port


class TestImageError(CliError):
    """The image (or app) cannot be tested: no examples, it does not start..."""


EXAMPLE_FORMAT = """{"examples": [
  {"name": "predict", "path": "/api/v1.0/predictions",
   "body": {"data": {"ndarray": [[1.0, 2.0]]}},
   "status": 200,
   "response": {"data": {"names": ["t:0", "t:1"], "ndarray": [[1.0, 2.0]]}, "meta": {}},
   "tolerance": 1e-9}
]}
(method: POST with a body, else GET; send: json or form; tolerance: relative, optional)"""


def load_examples(app_dir: str) -> List[Dict[str, Any]]:
    path = os.path.join(app_dir, "examples.json")
    if not os.path.isfile(path):
        raise TestImageError("%s has no examples.json to test with; write one like this:\n%s"
                             % (app_dir, EXAMPLE_FORMAT))
    with open(path) as handle:
        try:
            examples = json.load(handle).get("examples", [])
        except (ValueError, AttributeError) as exc:
            raise TestImageError("%s is not an examples file (%s); it looks like this:\n%s"
                                 % (path, exc, EXAMPLE_FORMAT)) from exc
    if not examples:
        raise TestImageError("%s lists no examples; write them like this:\n%s"
                             % (path, EXAMPLE_FORMAT))
    return examples


def request(base: str, example: Dict[str, Any], timeout: float = 30.0) -> Tuple[int, Any]:
    method = example.get("method", "POST" if "body" in example else "GET")
    url = base + example["path"]
    data = None
    headers = {}
    if "body" in example:
        text = json.dumps(example["body"])
        if example.get("send") == "form":
            data = urllib.parse.urlencode({"json": text}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = text.encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def matches(expected: Any, got: Any, tolerance: Optional[float]) -> bool:
    if isinstance(expected, dict):
        return (isinstance(got, dict) and set(expected) == set(got)
                and all(matches(expected[k], got[k], tolerance) for k in expected))
    if isinstance(expected, list):
        return (isinstance(got, list) and len(expected) == len(got)
                and all(matches(e, g, tolerance) for e, g in zip(expected, got)))
    if tolerance and isinstance(expected, float) and isinstance(got, (int, float)):
        return math.isclose(expected, got, rel_tol=tolerance, abs_tol=tolerance)
    return type(expected) is type(got) and expected == got


def wait_ready(base: str, container: Any, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        container.reload()
        if container.status not in ("created", "running"):
            raise TestImageError("the container stopped before it was ready:\n%s"
                                 % container.logs(tail=40).decode("utf-8", "replace"))
        try:
            if request(base, {"path": "/ready"}, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TestImageError("not ready after %.0f s; last log lines:\n%s"
                         % (timeout, container.logs(tail=40).decode("utf-8", "replace")))


def check_examples(base: str, examples: List[Dict[str, Any]]) -> int:
    """Send every example to the server at ``base``, print PASS/FAIL lines; the failures."""
    failures = 0
    for example in examples:
        name = example.get("name", example["path"])
        status, body = request(base, example)
        expected_status = example.get("status", 200)
        ok = status == expected_status and (
            "response" not in example
            or matches(example["response"], body, example.get("tolerance")))
        print("%s %s" % ("PASS" if ok else "FAIL", name), flush=True)
        if not ok:
            failures += 1
            print("     expected %d %s\n     got      %d %s"
                  % (expected_status, json.dumps(example.get("response")), status,
                     json.dumps(body)), flush=True)
    return failures


def stopped_cleanly(code: Any) -> int:
    """Print the SIGTERM verdict for a server's exit code; 1 if it is a failure."""
    if code != 0:
        print("FAIL SIGTERM: the server exited with %s instead of 0" % code, flush=True)
        return 1
    print("PASS SIGTERM: clean exit", flush=True)
    return 0


def limits(memory: Optional[str], cpus: Optional[float]) -> Dict[str, Any]:
    """Engine options for a memory limit (``512m``, ``2g``) and a CPU share (``1.5``)."""
    found = {}  # type: Dict[str, Any]
    if memory:
        found["mem_limit"] = memory
        found["memswap_limit"] = memory  # no swap beyond the limit: an OOM shows as one
    if cpus:
        if cpus <= 0:
            raise TestImageError("--cpus must be more than 0, got %s" % cpus)
        found["nano_cpus"] = int(round(cpus * 1e9))
    return found


def run(tag: str, app_dir: str, user: Optional[str] = None, timeout: float = 120.0,
        environment: Optional[Dict[str, str]] = None, memory: Optional[str] = None,
        cpus: Optional[float] = None, client: Any = None) -> int:
    """Returns the number of failed checks (0: the image passed)."""
    examples = load_examples(app_dir)
    client = client or connect()
    user = user or str(random.randint(10000, 60000))
    bounded = limits(memory, cpus)
    print("---> starting %s as user %s%s" % (tag, user, "".join(
        ", %s %s" % (k, v) for k, v in (("memory", memory), ("cpus", cpus)) if v)), flush=True)
    rest = rest_port(app_dir)
    container = client.containers.run(tag, detach=True, user=user, environment=environment,
                                      ports={rest: ("127.0.0.1", None)}, **bounded)
    failures = 0
    try:
        container.reload()
        port = container.ports[rest][0]["HostPort"]
        base = "http://127.0.0.1:%s" % port
        started = time.time()
        wait_ready(base, container, timeout)
        print("---> ready in %.1f s on %s" % (time.time() - started, base), flush=True)
        failures = check_examples(base, examples)
        container.stop(timeout=30)
        failures += stopped_cleanly(container.wait().get("StatusCode"))
    finally:
        container.remove(force=True)
    print("---> %s: %d example(s), %d failure(s)" % (tag, len(examples), failures), flush=True)
    return failures


def main(tag: str, app_dir: str, user: Optional[str], timeout: float,
         memory: Optional[str] = None, cpus: Optional[float] = None) -> int:
    return 1 if run(tag, app_dir, user, timeout, memory=memory, cpus=cpus) else 0
