"""Score a file against a running server, as Seldon's batch processor does: ``modelkiln batch
--url URL IN OUT`` (or ``docker run IMAGE batch --url URL IN OUT``).

The inputs, outputs, ``--resume`` and ``--shard`` are those of ``predict`` (``jobs``): JSON
lines or a JSON array of messages are sent one per request, CSV and ``.npy`` tables
``--batch-size`` rows per request. ``--workers`` requests are in flight at once, each worker
on its own keep-alive connection; answers are written in input order. A 5xx answer or a lost
connection is retried ``--retries`` times with exponential backoff (a ``Retry-After`` is
honoured); a 4xx is the request's own fault and is written as that line's error at once.
"""

import argparse
import collections
import datetime
import email.utils
import http.client
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import quote, urlsplit

from ..errors import BAD_DATA
from ..settings import SettingsError, from_environment
from .inputs import (BadLine, JobError, Shard, Table, count_message_lines, load_json,
                        message_lines, selected, shard_size)
from .outputs import Output, OutputLock, complete_lines, failed_lines
from .predict import (EXIT_FAILED_ITEMS, EXIT_OK, EXIT_USAGE, TABLE_FORMATS, Progress,
                   add_resume_and_shard, check_paths, csv_rows, error_line, parse_shard,
                   resume_table, sharded_name)

PROTOCOLS = ("seldon", "v2")
SELDON_PATH = "/api/v1.0/predictions"
MAX_BACKOFF = 10.0  # seconds, the longest wait between two attempts
DIGITS = re.compile(r"[0-9]+\Z")
CONNECTION_ERRORS = (OSError, http.client.HTTPException)


class Endpoint(object):
    """Where the requests go, and a keep-alive connection per worker thread."""

    def __init__(self, url: str, protocol: str, model: Optional[str], timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise JobError("--url %r must be http://HOST:PORT or https://HOST:PORT, optionally "
                           "with the prediction path" % url)
        self.url = url
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        path = parts.path.rstrip("/")
        if path:  # the caller names the route (a Seldon gateway, an ingress prefix)
            self.path = path + ("?" + parts.query if parts.query else "")
        elif protocol == "v2":
            if not model:
                raise JobError("--protocol v2 needs --model NAME (the V2 model name, e.g. "
                               "from GET /v2/models/NAME), or the whole infer URL in --url")
            self.path = "/v2/models/%s/infer" % quote(model, safe="")
        else:
            self.path = SELDON_PATH
        self.timeout = timeout
        self.local = threading.local()
        self.context = ssl.create_default_context() if self.https else None

    def check(self) -> None:
        """Fail fast with the fix when nothing listens there."""
        try:
            socket.create_connection((self.host, self.port), timeout=self.timeout).close()
        except OSError as exc:
            raise JobError("cannot connect to %s (%s:%d): %s; is the server running?"
                           % (self.url, self.host, self.port, exc)) from exc

    def post(self, body: bytes) -> Tuple[int, Dict[str, str], bytes]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            if self.https:
                connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=self.context)
            else:
                connection = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout)
            self.local.connection = connection
        try:
            connection.request("POST", self.path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            connection.close()
            self.local.connection = None
            raise
        if response.will_close:
            connection.close()
            self.local.connection = None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


class Sender(object):
    """One request with retries; counts what it retried."""

    def __init__(self, endpoint: Endpoint, retries: int,
                 sleep: Callable[[float], Any] = time.sleep) -> None:
        self.endpoint = endpoint
        self.retries = retries
        self.sleep = sleep
        self.retried = 0
        self.lock = threading.Lock()

    def send(self, message: Any) -> Tuple[int, Any]:
        """(HTTP status, the answer as JSON, or an error line) after at most 1 + retries
        attempts; status 0 when the server could not be reached."""
        body = json.dumps(message).encode("utf-8")
        attempt = 0
        while True:
            try:
                status, headers, data = self.endpoint.post(body)
            except CONNECTION_ERRORS as exc:
                status, headers, data = 0, {}, str(exc).encode("utf-8")
            if retryable(status) and attempt < self.retries:
                attempt += 1
                with self.lock:
                    self.retried += 1
                self.sleep(backoff(attempt, headers.get("retry-after")))
                continue
            return status, parse_answer(status, data)


def retryable(status: int) -> bool:
    """No answer, or a 5xx that a later attempt may not get (501 and 505 say the request
    itself cannot be served: retrying cannot help)."""
    return status == 0 or (status >= 500 and status not in (501, 505))


def backoff(attempt: int, retry_after: Optional[str] = None) -> float:
    """Seconds before attempt ``attempt + 1``: the server's Retry-After when it is one
    (RFC 9110: seconds as digits, or an HTTP date), at most MAX_BACKOFF; else (none, or
    anything else: "nan", "-1", "1e9", garbage) 0.1 s doubled per attempt, with jitter."""
    seconds = retry_after_seconds(retry_after) if retry_after else None
    if seconds is not None:
        return min(seconds, MAX_BACKOFF)
    return min(MAX_BACKOFF, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def retry_after_seconds(value: str, now: Optional[float] = None) -> Optional[float]:
    """A Retry-After value in seconds (never negative), or None when it is neither form."""
    value = value.strip()
    if DIGITS.match(value):
        return float(value[:12])  # more digits than that wait longer than MAX_BACKOFF anyway
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # TypeError: Python < 3.10's answer to a value that is no date
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = time.time() if now is None else now
    return max(when.timestamp() - now, 0.0)


def parse_answer(status: int, data: bytes) -> Any:
    """The answer for a 2xx; else an error line naming the status and the server's message."""
    if 200 <= status < 300:
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # (UnicodeDecodeError is a ValueError)
            return error_line(status, BAD_DATA, "the server answered %d with a body that is "
                                                "not JSON: %s" % (status, exc))
    if status == 0:
        return error_line(0, "CONNECTION_FAILED", "no answer: %s" % data.decode("utf-8",
                                                                              "replace"))
    text = data.decode("utf-8", "replace")
    reason, message = "HTTP_%d" % status, text[:2000]
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        seldon = body.get("status")
        if isinstance(seldon, dict):  # Seldon's {"status": {"info", "reason", "code"}}
            reason = seldon.get("reason") or reason
            message = str(seldon.get("info") or message)
        elif isinstance(body.get("error"), str):  # V2's {"error": "..."}
            message = body["error"]
    return error_line(status, reason, message)


def is_error_line(answer: Any) -> bool:
    """Whether ``answer`` is an ``error_line`` (parse_answer's failure), not the server's."""
    return (isinstance(answer, dict) and list(answer) == ["error"]
            and isinstance(answer["error"], dict)
            and set(answer["error"]) == {"status", "reason", "message"})


def in_order(workers: int, work: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """``work(item)`` for every item on ``workers`` threads, yielded in input order, with a
    bounded number of requests queued ahead."""
    window = max(4 * workers, 8)
    pending = collections.deque()  # type: Any
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# -- the job ----------------------------------------------------------------------------------

class Batch(object):
    """One batch job: where it sends, how, and how it reports."""

    def __init__(self, endpoint: Endpoint, protocol: str, workers: int, retries: int,
                 batch_size: int, input_name: str, stderr: Any = None,
                 limit: Optional[int] = None) -> None:
        self.endpoint = endpoint
        self.protocol = protocol
        self.workers = max(workers, 1)
        self.sender = Sender(endpoint, retries)
        self.batch_size = max(batch_size, 1)
        self.input_name = input_name
        self.stderr = stderr or sys.stderr
        self.limit = limit or from_environment("max_request_size")

    def run(self, source: str, target: str, resume: bool = False, shard: Shard = None) -> int:
        target = sharded_name(target, shard)
        ext = check_paths(source, target)
        self.endpoint.check()
        with OutputLock(target):
            if ext in TABLE_FORMATS:
                return self._table(Table(source, self.limit), target, resume, shard)
            if ext == ".json":
                document = load_json(source, self.limit)
                if not isinstance(document, list):
                    raise JobError("%s must hold a JSON array of messages (or be a .jsonl "
                                   "file, one per line)" % source)
                items, total = enumerate(document), len(document)  # type: Any, int
            else:
                items = message_lines(source, self.limit)
                total = count_message_lines(source, self.limit)
            return self._messages(items, shard_size(total, shard), target, resume, shard)

    def _messages(self, items: Iterator[Tuple[int, Any]], total: int, target: str,
                  resume: bool, shard: Shard) -> int:
        skip = complete_lines(target) if resume else 0
        if skip:
            self.stderr.write("resuming after %d completed line(s) of %s\n" % (skip, target))
        failed = failed_lines(target) if skip else 0
        progress = Progress(total, self.stderr)
        progress.done = skip

        def work(pair: Tuple[int, Any]) -> Tuple[int, Any]:
            index, item = pair
            if isinstance(item, BadLine):
                return index, error_line(item.status, item.reason, item.message)
            return index, self.sender.send(item)[1]

        with Output(target, append=skip > 0) as out:
            for index, answer in in_order(self.workers, work, selected(items, shard, skip)):
                if isinstance(answer, dict) and "error" in answer:
                    failed += 1
                    answer = dict(answer, line=index + 1)
                out.write(json.dumps(answer, ensure_ascii=False) + "\n")
                out.flush()  # a killed job keeps every answer received so far (--resume)
                progress.advance(1)
        self.stderr.write("%d item(s) sent to %s, answers in %s: %d failed, %d retried "
                          "request(s)\n" % (total, self.endpoint.url, target, failed,
                                            self.sender.retried))
        return EXIT_OK if failed == 0 else EXIT_FAILED_ITEMS

    def _table(self, table: Table, target: str, resume: bool, shard: Shard) -> int:
        import csv

        if not target.lower().endswith(".csv"):
            raise JobError("modelkiln batch writes a table input to a .csv output (rows are "
                           "appended as answers arrive), not %s" % target)
        total = shard_size(table.count(), shard)
        done, header = resume_table(target, resume, self.stderr)
        progress = Progress(total, self.stderr)
        progress.done = done
        starts = range(done, total, self.batch_size)

        def work(pair: Tuple[int, Any]) -> Tuple[int, int, Any]:
            start, batch = pair
            return start, len(batch), self.sender.send(
                self._table_request(table.names, batch))[1]

        batches = zip(starts, table.batches(shard, done, self.batch_size))
        with Output(target, append=header, newline="") as out:
            writer = csv.writer(out)
            for start, count, answer in in_order(self.workers, work, batches):
                where = "rows %d-%d of %s" % (start + 1, start + count, table.path)
                if is_error_line(answer):
                    error = answer["error"]
                    problem = "%s %s: %s" % (error["status"], error["reason"], error["message"])
                else:
                    problem, out_names, rows = self._table_answer(answer, count)
                if problem:
                    raise JobError("%s failed: %s; the %d row(s) before them are in %s (rerun "
                                   "with --resume to continue)" % (where, problem, start, target))
                if not header:
                    writer.writerow(out_names)
                    header = True
                writer.writerows(rows)
                out.flush()
                progress.advance(count)
        self.stderr.write("%d row(s) sent to %s, answers in %s, %d retried request(s)\n"
                          % (total, self.endpoint.url, target, self.sender.retried))
        return EXIT_OK

    def _table_request(self, names: List[str], batch: Any) -> Dict[str, Any]:
        if self.protocol == "v2":
            return {"inputs": [{"name": self.input_name, "shape": list(batch.shape),
                                "datatype": "FP64", "data": batch.ravel().tolist()}]}
        return {"data": {"names": list(names), "ndarray": batch.tolist()}}

    def _table_answer(self, answer: Any, count: int) -> Tuple[str, List[str], List[Any]]:
        """("", column names, rows) of an answer to ``count`` rows; (what is wrong, [], [])
        when it is no table of ``count`` rows (never reshaped into one)."""
        import numpy as np

        try:
            if self.protocol == "v2":
                output = answer["outputs"][0]
                array = np.asarray(output["data"]).reshape(output["shape"])
                names = [str(output.get("name") or "t")]
            else:
                data = answer["data"]
                if "ndarray" in data:
                    array = np.asarray(data["ndarray"])
                else:
                    array = np.asarray(data["tensor"]["values"]).reshape(
                        data["tensor"]["shape"])
                names = [str(name) for name in data.get("names") or []]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return ("the server's answer holds no table (%s): %s"
                    % (exc, json.dumps(answer)[:200]), [], [])
        if array.ndim == 0 or array.shape[0] != count:
            return ("the server answered %s row(s) (shape %s) for %d rows sent: a table "
                    "answer has one row per row sent"
                    % (array.shape[0] if array.ndim else "no", list(array.shape), count),
                    [], [])
        array = array.reshape(count, -1)
        width = array.shape[1]
        if len(names) != width:
            base = names[0] if len(names) == 1 else "t"
            names = ["%s:%d" % (base, i) for i in range(width)]
        return "", names, csv_rows(array.tolist())


# -- command line -----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelkiln batch",
        description="Score a file against a running server (Seldon's batch processor).")
    parser.add_argument("--url", required=True,
                        help="the server, e.g. http://localhost:9000 (then the protocol's "
                             "route is used), or the whole prediction URL")
    parser.add_argument("input", help=".jsonl or .json messages; .csv or .npy tables")
    parser.add_argument("output", help=".jsonl for messages; .csv for tables")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="seldon",
                        help="seldon: POST /api/v1.0/predictions; v2: POST "
                             "/v2/models/MODEL/infer (default seldon)")
    parser.add_argument("--model", help="the V2 model name (--protocol v2)")
    parser.add_argument("--workers", type=int, default=4,
                        help="requests in flight at once (default 4)")
    parser.add_argument("--retries", type=int, default=3,
                        help="attempts more after a 5xx or a lost connection (default 3)")
    parser.add_argument("--batch-size", type=int, default=100,
                        help="table rows per request (default 100)")
    parser.add_argument("--input-name", default="input-0",
                        help="the V2 input tensor's name for table rows (default input-0)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for one answer (default 60)")
    add_resume_and_shard(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.workers < 1 or args.retries < 0 or args.batch_size < 1:
            raise JobError("--workers and --batch-size must be at least 1, --retries 0 or more")
        endpoint = Endpoint(args.url, args.protocol, args.model, args.timeout)
        job = Batch(endpoint, args.protocol, args.workers, args.retries, args.batch_size,
                    args.input_name)
        return job.run(args.input, args.output, args.resume, parse_shard(args.shard))
    except (JobError, SettingsError, OSError) as exc:  # OSError: a file changed under the job
        sys.stderr.write("ERROR: %s\n" % exc)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
