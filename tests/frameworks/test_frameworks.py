"""Real frameworks (PyTorch CPU, scikit-learn) in the live server, 2 workers, with models that
compute in ``__init__``: by default the class is constructed in each worker after the fork, so
OpenMP thread pools are never inherited across a fork (where they hang).

Runs in its own virtualenv (``make test-frameworks``: torch from pip's find-links folder).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ..python_runtime import live

torch = pytest.importorskip("torch")
sklearn = pytest.importorskip("sklearn")

APPS = Path(__file__).resolve().parent / "apps"


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(app, model_name, env=None):
        server = live.LiveServer(str(APPS / app), model_name, env=env, workdir=str(tmp_path))
        started.append(server)
        server.start()
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
        print(server.log_tail())


def app_module(app, name):
    """The app's module, imported in the test process (to compute the expected answer)."""
    spec = importlib.util.spec_from_file_location(name, str(APPS / app / (name + ".py")))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def many_predictions(server, rows, n=40):
    answers = []
    for index in range(n):
        answer = server.post("/api/v1.0/predictions", json={"data": {"ndarray": rows}},
                             headers={"Connection": "close"}, timeout=30)
        assert answer.status_code == 200, (index, answer.text)
        answers.append(np.array(answer.json()["data"]["ndarray"]))
    return answers


def test_torch_model_computing_in_init_serves_from_two_workers(serve):
    server = serve("torchinit", "TorchInit", env={"GUNICORN_WORKERS": "2"})
    rows = np.linspace(-1, 1, 2 * 64).reshape(2, 64).tolist()
    with torch.no_grad():
        expected = app_module("torchinit", "TorchInit").build()(torch.tensor(rows, dtype=torch.float32)).numpy()
    for got in many_predictions(server, rows):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert len(server.workers()) == 2 and server.alive()


def test_sklearn_model_fitted_in_init_serves_from_two_workers(serve):
    server = serve("sklearninit", "SklearnInit", env={"GUNICORN_WORKERS": "2"})
    rows = np.random.RandomState(1).normal(size=(5, 8))
    expected = app_module("sklearninit", "SklearnInit").fitted().predict_proba(rows)
    for got in many_predictions(server, rows.tolist()):
        np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert len(server.workers()) == 2 and server.alive()


def test_torch_model_with_adaptive_batching_answers_as_unbatched(serve):
    """Concurrent one-row requests merged into batches: each answer is the model's answer for
    that row alone, and load()'s thread-local torch setting holds for the batches (they run
    on the thread load() ran on)."""
    import concurrent.futures

    # A call of 20 ms: the requests sent together wait for the model, and merge (a batch
    # starts once every request the worker has taken in has joined it, so with a call of a
    # few microseconds they would merge only by chance)
    server = serve("torchinit", "TorchInit", env={"MODELKILN_MAX_BATCH_SIZE": "32",
                                                  "MODELKILN_MAX_BATCH_TIME": "0.02",
                                                  "TORCHINIT_CALL_SECONDS": "0.02"})
    rows = np.random.RandomState(2).normal(size=(48, 64)).astype(np.float32)
    net = app_module("torchinit", "TorchInit").build()
    with torch.no_grad():
        expected = [net(torch.tensor(row[None, :])).numpy() for row in rows]

    def one(index):
        answer = server.post("/api/v1.0/predictions",
                             json={"data": {"ndarray": rows[index:index + 1].tolist()}},
                             timeout=30)
        assert answer.status_code == 200, answer.text
        return np.array(answer.json()["data"]["ndarray"])

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(one, range(len(rows))))
    for got, want in zip(answers, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    metrics = server.session.get(server.metrics_url()).text
    sizes = [line for line in metrics.splitlines() if line.startswith("modelkiln_batch_rows_sum")]
    count = [line for line in metrics.splitlines()
             if line.startswith("modelkiln_batch_rows_count")]
    assert float(sizes[0].split()[-1]) / float(count[0].split()[-1]) > 1.5  # merged calls
