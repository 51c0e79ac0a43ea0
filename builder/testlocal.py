"""``modelkiln test APP_DIR``: check an app's ``examples.json`` before building any image.

The app is served on this machine by the same server an image runs (``python -m
python_runtime APP_DIR``: its ``.s2i/environment`` applies), with this interpreter and what is
installed in it: nothing is installed, no container is started. The examples are checked as
``test-image`` checks them, with the same report, and the server must then stop cleanly on
SIGTERM.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import List

from .testimage import (TestImageError, check_examples, load_examples, request,
                        stopped_cleanly)


def free_ports(count: int) -> List[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path: str, lines: int = 40) -> str:
    with open(path, "r", errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def run(app_dir: str, timeout: float = 120.0) -> int:
    """The number of failed checks (0: the app passed)."""
    app_dir = os.path.abspath(app_dir)
    examples = load_examples(app_dir)
    http, metrics, grpc = free_ports(3)
    base = "http://127.0.0.1:%d" % http
    command = [sys.executable, "-m", "python_runtime", app_dir, "--host", "127.0.0.1",
               "--http-port", str(http), "--metrics-port", str(metrics),
               "--grpc-port", str(grpc), "--workers", "1"]
    log = tempfile.NamedTemporaryFile(prefix="modelkiln-test-", suffix=".log", delete=False)
    print("---> serving %s on %s (no image: this interpreter's packages)" % (app_dir, base),
          flush=True)
    server = subprocess.Popen(command, cwd=app_dir, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    failures = 0
    try:
        started = time.time()
        while True:
            if server.poll() is not None:
                raise TestImageError("the server stopped (exit code %s) before it was ready:\n%s"
                                     % (server.returncode, _tail(log.name)))
            try:
                if request(base, {"path": "/ready"}, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.time() - started > timeout:
                raise TestImageError("not ready after %.0f s; last log lines:\n%s"
                                     % (timeout, _tail(log.name)))
            time.sleep(0.2)
        print("---> ready in %.1f s" % (time.time() - started), flush=True)
        failures = check_examples(base, examples)
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        failures += stopped_cleanly(code)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        log.close()
        os.unlink(log.name)
    print("---> %s: %d example(s), %d failure(s)" % (app_dir, len(examples), failures),
          flush=True)
    return failures


def main(app_dir: str, timeout: float) -> int:
    try:
        return 1 if run(app_dir, timeout) else 0
    except TestImageError as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        return 1
