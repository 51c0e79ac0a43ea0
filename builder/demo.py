"""``make demo``: serve templates/model-template-app, send it a prediction, print the answer.

Runs the microservice locally (no Docker); the image-based demo arrives with the builder image.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "templates", "model-template-app")
REQUEST = {"data": {"names": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                    "ndarray": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, body: Optional[bytes] = None) -> Tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def wait_ready(base: str, process: "subprocess.Popen[bytes]", timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited with code %s before it was ready"
                             % process.returncode)
        try:
            if fetch(base + "/ready")[0] == 200:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit("the server was not ready after %.0f s" % timeout)


def main() -> int:
    http_port, metrics_port = free_port(), free_port()
    base = "http://127.0.0.1:%d" % http_port
    command = [sys.executable, "-m", "python_runtime", APP, "--host", "127.0.0.1",
               "--http-port", str(http_port), "--metrics-port", str(metrics_port)]
    print("---> serving %s on %s" % (os.path.relpath(APP, ROOT), base), flush=True)
    process = subprocess.Popen(command, cwd=ROOT)
    try:
        wait_ready(base, process)
        print("---> POST %s/api/v1.0/predictions\n%s" % (base, json.dumps(REQUEST)), flush=True)
        status, answer = fetch(base + "/api/v1.0/predictions", json.dumps(REQUEST).encode())
        print("---> HTTP %d\n%s" % (status, json.dumps(answer, indent=2)), flush=True)
        return 0 if status == 200 else 1
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        print("---> server stopped (exit code %s)" % process.returncode, flush=True)


if __name__ == "__main__":
    sys.exit(main())
