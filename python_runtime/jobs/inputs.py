"""What a file job (``jobs``, ``batch``) reads, streamed: JSON lines and CSV rows line by
line in bounded pieces, a ``.npy`` array memory-mapped, so a job holds a batch, not the file.
A line (or a ``.json`` document) longer than ``MODELKILN_MAX_REQUEST_SIZE`` is refused as the
server refuses such a body, and numbers are parsed by the server's own JSON parser
(``codecs.jsonio``): NaN, Infinity and integers beyond 64 bits are refused where a REST
request would be. ``JobError`` (the job cannot run) is raised here and by ``joboutputs``.
"""

import csv
import itertools
import os
from typing import Any, Iterable, Iterator, List, Optional, Tuple

from ..codecs import jsonio
from ..errors import BAD_DATA, BadDataError, PayloadTooLarge

CHUNK = 1 << 16  # bytes read at a time where a line may be longer than the limit
LIMIT_SETTING = "MODELKILN_MAX_REQUEST_SIZE"


class JobError(Exception):
    """The job cannot run; the message names the file, the line or the fix."""


class BadLine(object):
    """An input line that could not be read: written as that item's error line."""

    def __init__(self, message: str, status: int = 400, reason: str = BAD_DATA) -> None:
        self.message = message
        self.status = status
        self.reason = reason


Shard = Optional[Tuple[int, int]]


def selected(items: Iterable[Tuple[int, Any]], shard: Shard, skip: int = 0
             ) -> Iterator[Tuple[int, Any]]:
    """The (index, item) pairs of this shard, after the first ``skip`` of them."""
    if shard is not None:
        items = (pair for pair in items if pair[0] % shard[1] == shard[0])
    return itertools.islice(items, skip, None)


def chunks(pairs: Iterator[Tuple[int, Any]], size: int) -> Iterator[List[Tuple[int, Any]]]:
    """Lists of at most ``size`` pairs, read from ``pairs`` only as they are asked for."""
    while True:
        chunk = list(itertools.islice(pairs, size))
        if not chunk:
            return
        yield chunk


def shard_size(count: int, shard: Shard) -> int:
    if shard is None:
        return count
    return len(range(shard[0], count, shard[1]))


def open_input(path: str) -> Any:
    """``path`` opened for reading in binary, or a JobError naming the fix."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise JobError("cannot read input %s: %s: check that this user can read it"
                       % (path, exc.strerror)) from exc


def bounded_lines(handle: Any, limit: int) -> Iterator[Tuple[int, Optional[bytes]]]:
    """(line number, the line with its newline) from a binary file; None for a line over
    ``limit`` bytes, which is skipped in pieces of CHUNK bytes, never held whole."""
    for number in itertools.count(1):
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # the rest of the long line, piece by piece
                piece = handle.readline(CHUNK)
                if not piece or piece.endswith(b"\n"):
                    break
            yield number, None
        else:
            yield number, line


def too_long(number: int, limit: int) -> str:
    return ("line %d is longer than the limit of %d bytes (%s): split it, or raise the limit"
            % (number, limit, LIMIT_SETTING))


# -- JSON inputs ------------------------------------------------------------------------------

def message_lines(path: str, limit: int) -> Iterator[Tuple[int, Any]]:
    """(index, message) for every non-blank line of a JSON-lines file, parsed as the server
    parses a body; a line it would refuse becomes a BadLine (that item's error)."""
    with open_input(path) as handle:
        index = 0
        for number, line in bounded_lines(handle, limit):
            if line is None:
                yield index, BadLine(too_long(number, limit), PayloadTooLarge.status_code,
                                     PayloadTooLarge.reason)
            elif not line.strip():
                continue
            else:
                yield index, parse_line(number, line)
            index += 1


def count_message_lines(path: str, limit: int) -> int:
    with open_input(path) as handle:
        return sum(1 for _, line in bounded_lines(handle, limit)
                   if line is None or line.strip())


def parse_line(number: int, line: bytes) -> Any:
    try:
        return jsonio.loads(line)
    except BadDataError as exc:
        message = exc.message
        if message.startswith("invalid JSON: "):
            return BadLine("line %d is not JSON: %s" % (number, message[len("invalid JSON: "):]))
        return BadLine("line %d: %s" % (number, message))


def load_json(path: str, limit: int) -> Any:
    """A whole JSON document, no larger than a request may be, parsed as the server would."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise JobError("cannot read input %s: %s" % (path, exc.strerror)) from exc
    if size > limit:
        raise JobError("%s is %d bytes, over the limit of %d (%s): write it as .jsonl (one "
                       "message per line, read line by line), or raise the limit"
                       % (path, size, limit, LIMIT_SETTING))
    with open_input(path) as handle:
        data = handle.read(limit + 1)
    try:
        return jsonio.loads(data)
    except BadDataError as exc:
        raise JobError("%s is not JSON the server accepts: %s" % (path, exc.message)) from exc


# -- tables -----------------------------------------------------------------------------------

class Table(object):
    """A CSV (header line, then rows of numbers) or .npy input, read batch by batch."""

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.npy = path.lower().endswith(".npy")
        self.array = self._map() if self.npy else None
        self.names = [] if self.npy else self._header()  # type: List[str]

    def _map(self) -> Any:
        import numpy as np

        if os.path.getsize(self.path) == 0:  # (numpy's own word for it varies by version)
            raise JobError("%s is empty: a .npy input holds an array written by numpy.save"
                           % self.path)
        try:
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise JobError("%s is not a readable .npy array: %s" % (self.path, exc)) from exc
        return array.reshape(-1, 1) if array.ndim < 2 else array

    def _records(self) -> Iterator[Tuple[int, List[str]]]:
        """(line number, fields) of every non-empty CSV record."""
        with open_input(self.path) as handle:
            reader = csv.reader(self._text_lines(handle))
            try:
                for row in reader:
                    if row:
                        yield reader.line_num, row
            except csv.Error as exc:
                raise JobError("%s line %d is not a CSV row of numbers: %s"
                               % (self.path, reader.line_num, exc)) from exc

    def _text_lines(self, handle: Any) -> Iterator[str]:
        for number, line in bounded_lines(handle, self.limit):
            if line is None:
                raise JobError("%s %s" % (self.path, too_long(number, self.limit)))
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise JobError("%s line %d is not UTF-8 text (byte %d): save the file as "
                               "UTF-8" % (self.path, number, exc.start)) from exc

    def _header(self) -> List[str]:
        for _, header in self._records():
            return header
        raise JobError("%s is empty: a CSV input starts with a header line" % self.path)

    def count(self) -> int:
        """How many rows the input holds (a CSV is read once to count them)."""
        if self.array is not None:
            return len(self.array)
        return sum(1 for _ in self._records()) - 1

    def batches(self, shard: Shard, skip: int, size: int) -> Iterator[Any]:
        """Arrays of at most ``size`` rows of this shard, after its first ``skip`` rows."""
        import numpy as np

        if self.array is not None:
            rows = self.array if shard is None else self.array[shard[0]::shard[1]]
            for start in range(skip, len(rows), size):
                yield np.array(rows[start:start + size])
            return
        records = selected(enumerate(itertools.islice(self._records(), 1, None)), shard, skip)
        while True:
            batch = [record for _, record in itertools.islice(records, size)]
            if not batch:
                return
            yield np.asarray(self._numbers(batch), dtype=float).reshape(-1, len(self.names))

    def _numbers(self, batch: List[Tuple[int, List[str]]]) -> List[Any]:
        """The values of a batch of CSV rows, each a JSON number as the server's parser reads
        it (one parse per batch; a row at a time only to name what is wrong)."""
        width = len(self.names)
        for number, row in batch:
            if len(row) != width:
                raise JobError("%s line %d has %d values for %d columns (%s)"
                               % (self.path, number, len(row), width, ",".join(self.names)))
        values = _json_numbers("[%s]" % ",".join("[%s]" % ",".join(row) for _, row in batch))
        if values is not None and len(values) == len(batch) and all(
                isinstance(row, list) and len(row) == width and all(map(_is_number, row))
                for row in values):
            return values
        for number, row in batch:
            for column, field in zip(self.names, row):
                if not _is_number(_json_numbers(field) if field.strip() else None):
                    raise JobError("%s line %d: %r in column %s is not a number (JSON numbers, "
                                   "as the server reads them: no NaN, Infinity or empty values)"
                                   % (self.path, number, field[:40], column))
        raise JobError("%s: rows %d-%d are not rows of numbers"
                       % (self.path, batch[0][0], batch[-1][0]))


def _json_numbers(text: str) -> Any:
    """``text`` parsed by the server's JSON parser, or None when it refuses it."""
    try:
        return jsonio.loads(text.encode("utf-8"))
    except BadDataError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
