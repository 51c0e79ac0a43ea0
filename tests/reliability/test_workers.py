"""Workers under stress, on live servers: a request that never ends (with one thread and with
four), a worker killed under load, and what the metrics say afterwards. Each test is a row of
the issue's table; loops are bounded and everything runs on 127.0.0.1."""

import os
import signal
import threading
import time
from typing import Dict, List

import pytest

from ..python_runtime import live

pytestmark = pytest.mark.slow

PREDICTIONS = "/api/v1.0/predictions"
TIMEOUT = 2  # GUNICORN_TIMEOUT in these rows


def post(session, server, value):
    return session.post(server.url(PREDICTIONS), json={"data": {"ndarray": [[value]]}},
                        timeout=live.REQUEST_TIMEOUT)


def served(text):
    return live.metric_sum(text, "modelkiln_http_requests_total", route=PREDICTIONS)


def stall_env(pid_path, seconds, **extra):
    env = {"PREDICTIVE_UNIT_PARAMETERS": live.parameters(pid_path=str(pid_path),
                                                         seconds=float(seconds))}
    env.update(extra)
    return env


def stalled_pid(pid_path) -> int:
    return int(live.wait_for(lambda: pid_path.exists() and pid_path.read_text().split(), 30,
                             "predict() to stall")[-1])


def test_a_stuck_request_with_one_thread_ends_with_its_worker(tmp_path):
    """GUNICORN_THREADS=1: the stuck call's worker stops reporting to gunicorn, which kills it
    after GUNICORN_TIMEOUT; the client's connection closes without an answer, a new worker takes
    over, and the request is not counted (it was never answered)."""
    pid_path = tmp_path / "pids"
    with live.running("stall", "Stall", env=stall_env(
            pid_path, 60, GUNICORN_TIMEOUT=str(TIMEOUT)), workdir=str(tmp_path)) as server:
        session = live.requests.Session()
        assert post(session, server, 1).json()["data"]["ndarray"] == [[1]]
        started = time.monotonic()
        with pytest.raises(live.requests.ConnectionError):
            post(live.requests.Session(), server, -1)
        waited = time.monotonic() - started
        assert TIMEOUT <= waited < TIMEOUT + 15, waited
        stuck = int(pid_path.read_text().split()[0])
        live.wait_for(lambda: server.workers() and stuck not in server.workers(), 30,
                      "a new worker")
        server.wait_ready()
        answers = [post(session, server, i) for i in range(5)]
        assert [a.json()["data"]["ndarray"] for a in answers] == [[[i]] for i in range(5)]
        assert "WORKER TIMEOUT" in server.log(), server.log_tail()
        text = server.scrape()
        assert served(text) == 6, text  # 1 + 5 answered; the killed call is not counted


def test_a_stuck_request_with_four_threads_is_not_ended_and_others_go_on(tmp_path):
    """GUNICORN_THREADS=4: what the setting's help says. The stuck call runs to its end (no
    thread can be stopped from outside), the worker is not replaced, the other threads answer."""
    pid_path = tmp_path / "pids"
    seconds = TIMEOUT + 3
    with live.running("stall", "Stall", env=stall_env(
            pid_path, seconds, GUNICORN_TIMEOUT=str(TIMEOUT), GUNICORN_THREADS="4"),
            workdir=str(tmp_path)) as server:
        result: Dict[str, object] = {}
        stuck = threading.Thread(target=lambda: result.update(
            answer=post(live.requests.Session(), server, -3)))
        started = time.monotonic()
        stuck.start()
        pid = stalled_pid(pid_path)
        session = live.requests.Session()
        while time.monotonic() - started < seconds - 1:
            before = time.monotonic()
            answer = post(session, server, 7)
            assert answer.status_code == 200 and answer.json()["data"]["ndarray"] == [[7]]
            assert time.monotonic() - before < 1.0
        stuck.join(seconds + 30)
        assert result["answer"].status_code == 200, result
        assert result["answer"].json()["data"]["ndarray"] == [[-3]]
        assert time.monotonic() - started >= seconds
        assert server.workers() == [pid]
        assert "WORKER TIMEOUT" not in server.log()


class Client(threading.Thread):
    """Posts its own numbers in a loop on a keep-alive session until told to stop; after a
    failed call it starts a new session. Counts answers that came back right, and failures."""

    def __init__(self, server: live.LiveServer, index: int, stop: threading.Event) -> None:
        super(Client, self).__init__(daemon=True)
        self.server, self.index, self.stop = server, index, stop
        self.ok = 0
        self.failures: List[str] = []

    def run(self) -> None:
        session = live.requests.Session()
        value = 0
        while not self.stop.is_set():
            value += 1
            try:
                answer = post(session, self.server, self.index * 100000 + value)
            except live.requests.RequestException as exc:
                self.failures.append(type(exc).__name__)
                session = live.requests.Session()
                continue
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"]["ndarray"] == [[self.index * 100000 + value]]
            self.ok += 1


def test_a_worker_killed_under_load_loses_only_what_it_held(tmp_path):
    """Two workers, four clients in a loop; one worker is SIGKILLed in the middle of a call.
    The call it was running is lost, and each client loses at most the one request it had sent
    on a connection to that worker; everything else is answered, a new worker replaces the dead
    one, and the request metrics equal the answers the clients received."""
    pid_path = tmp_path / "pids"
    with live.running("stall", "Stall", env=stall_env(pid_path, 60, GUNICORN_WORKERS="2"),
                      workdir=str(tmp_path)) as server:
        workers = server.wait_workers(2)
        stop = threading.Event()
        clients = [Client(server, index, stop) for index in range(1, 5)]
        for client in clients:
            client.start()
        lost: Dict[str, object] = {}

        def stuck_call():
            try:
                lost["answer"] = post(live.requests.Session(), server, -1)
            except live.requests.RequestException as exc:
                lost["error"] = exc

        stuck = threading.Thread(target=stuck_call)
        try:
            time.sleep(1.0)
            stuck.start()
            victim = stalled_pid(pid_path)
            assert victim in workers
            time.sleep(0.3)
            os.kill(victim, signal.SIGKILL)
            stuck.join(30)
            live.wait_for(lambda: len(server.workers()) == 2 and victim not in server.workers(),
                          30, "a new worker")
            time.sleep(1.5)
        finally:
            stop.set()
            for client in clients:
                client.join(30)
        assert "error" in lost and "answer" not in lost, lost
        assert all(len(client.failures) <= 1 for client in clients), \
            [client.failures for client in clients]
        assert all(client.ok > 20 for client in clients), [client.ok for client in clients]
        server.wait_ready()
        text = server.scrape()
        assert served(text) == sum(client.ok for client in clients), text
        assert live.metric_sum(text, "modelkiln_http_requests_total", route=PREDICTIONS,
                               status="200") == served(text)
        assert "Traceback" not in server.log(), server.log_tail()
