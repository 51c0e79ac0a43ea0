"""``modelkiln test APP_DIR``: check an app's ``examples.json`` before building any image.

The class is loaded in this process, with this interpreter and what is installed in it
(nothing is installed, no container started): its settings come from the folder's
``.s2i/environment`` as the image's would, it is constructed and its ``load()`` runs, and the
same WSGI application an image serves answers on a local port, for this process only. The
examples are checked as ``test-image`` checks them, with the same report.
"""

import os
import threading
from typing import Any, List, Tuple
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .testimage import TestImageError, check_examples, load_examples


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # the report says what happened
        pass


class _ThreadedServer(WSGIServer):
    daemon_threads = True


def build_app(app_dir: str) -> Any:
    """The WSGI app an image would serve for ``app_dir``, its class constructed and loaded."""
    from python_runtime.jobs.predict import JobError, load_app

    try:
        return load_app(app_dir)
    except JobError as exc:
        raise TestImageError(str(exc)) from exc


def folder_format(app_dir: str) -> str:
    """What the app folder holds, as the image's server would decide it."""
    from python_runtime.model.formats import resolve
    from python_runtime.settings import Settings, SettingsError

    try:
        return resolve(Settings.load([app_dir], read_annotations=False))[0].model_format
    except SettingsError as exc:
        raise TestImageError(str(exc)) from exc


def catwalk_checks(app_dir: str) -> int:
    """catwalk's own model test (``catwalk test-model``): the number of failed checks."""
    from python_runtime.model.formats.catwalk import model_test

    print("---> catwalk's model test on %s (load_test_data, predict, the targets and the "
          "output schema, as `catwalk test-model` checks them)" % app_dir, flush=True)
    return print_verdicts(model_test(app_dir))


def print_verdicts(verdicts: List[Tuple[bool, str]]) -> int:
    """PASS/FAIL lines for (passed, what) verdicts; the number that failed."""
    for ok, what in verdicts:
        print("%s %s" % ("PASS" if ok else "FAIL", what), flush=True)
    return sum(1 for ok, _ in verdicts if not ok)


def modzy_checks(app_dir: str) -> int:
    """The Modzy template's test data (tests/data/examples, tests/data/validation-error)."""
    from python_runtime.model.formats.modzy import run_examples

    print("---> the Modzy template's test data in %s/tests/data (examples and "
          "validation-error cases)" % app_dir, flush=True)
    _, failed, lines = run_examples(app_dir)
    for line in lines:
        print(line, flush=True)
    return failed


def gppi_checks(app_dir: str) -> int:
    """ODAHU's self-check of a GPPI artifact (its CLI's ``self_check``)."""
    from python_runtime.model.formats.gppi import self_check

    print("---> ODAHU's self-check on %s (the entrypoint imports, init(), info(), and "
          "predict_on_matrix on head_input.pkl when the artifact has it)" % app_dir, flush=True)
    return print_verdicts(self_check(app_dir))


def mlflow_checks(app_dir: str) -> int:
    """The serving input example MLflow saved with the model, scored by MLflow."""
    from python_runtime.model.formats.mlflow import serving_example_check

    print("---> the serving input example MLflow saved in %s, scored on /invocations (the "
          "model loaded by mlflow)" % app_dir, flush=True)
    return print_verdicts(serving_example_check(app_dir))


FORMAT_CHECKS = {"catwalk": ("catwalk's model test", catwalk_checks),
                 "modzy": ("the template's test data", modzy_checks),
                 "gppi": ("ODAHU's self-check", gppi_checks),
                 "mlflow": ("MLflow's serving input check", mlflow_checks)}


def run(app_dir: str) -> int:
    """The number of failed checks (0: the app passed)."""
    app_dir = os.path.abspath(app_dir)
    failures = 0
    own = FORMAT_CHECKS.get(folder_format(app_dir))
    if own is not None:  # a model folder of another system: its own tests first
        failures = own[1](app_dir)
        if not os.path.isfile(os.path.join(app_dir, "examples.json")):
            print("---> %s: %s, %d failure(s) (no examples.json)" % (app_dir, own[0], failures),
                  flush=True)
            return failures
    examples = load_examples(app_dir)
    print("---> loading %s in this process (this interpreter's packages; nothing installed)"
          % app_dir, flush=True)
    app = build_app(app_dir)
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadedServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        failures += check_examples("http://127.0.0.1:%d" % server.server_port, examples)
    finally:
        server.shutdown()
        server.server_close()
    print("---> %s: %d example(s), %d failure(s)" % (app_dir, len(examples), failures),
          flush=True)
    return failures


def main(app_dir: str) -> int:
    return 1 if run(app_dir) else 0
