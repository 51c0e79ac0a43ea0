"""``make demo``: build templates/model-template-app with the default builder image, run the
app image, send it a prediction, print the answer, and clean up (container and image)."""

import json
import os
import sys
import time
from typing import Any

from .build import BuildOptions, run_build
from .engine import connect
from .errors import report_errors
from .testimage import request, wait_ready

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "templates", "model-template-app")
BUILDER = os.environ.get("MODELKILN_BUILDER", "modelkiln/python311")
TAG = "modelkiln-demo/model-template-app:latest"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
REQUEST = {"data": {"names": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                    "ndarray": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}


def demo(client: Any) -> int:
    started = time.time()
    run_build(BuildOptions(APP, BUILDER, TAG, copy=True,
                           ca_bundle=HOST_CA if os.path.isfile(HOST_CA) else None))
    print("---> build took %.1f s; starting %s" % (time.time() - started, TAG), flush=True)
    container = client.containers.run(TAG, detach=True, ports={"9000/tcp": ("127.0.0.1", None)})
    try:
        container.reload()
        base = "http://127.0.0.1:%s" % container.ports["9000/tcp"][0]["HostPort"]
        wait_ready(base, container, 60)
        print("---> POST %s/api/v1.0/predictions\n%s" % (base, json.dumps(REQUEST)), flush=True)
        status, answer = request(base, {"path": "/api/v1.0/predictions", "body": REQUEST})
        print("---> HTTP %d\n%s" % (status, json.dumps(answer, indent=2)), flush=True)
        return 0 if status == 200 else 1
    finally:
        container.stop(timeout=30)
        container.remove(force=True)
        client.images.remove(TAG, force=True)
        print("---> removed the demo container and image", flush=True)


def main() -> int:
    return report_errors(lambda: demo(connect()))


if __name__ == "__main__":
    sys.exit(main())
