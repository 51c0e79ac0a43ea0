"""One memory budget per worker process for what its connections buffer.

The REST loop and the gRPC loop of a worker share it (``MODELKILN_MEMORY_BUDGET``, by default
twice ``MODELKILN_MAX_REQUEST_SIZE``): request bytes received and not yet answered, answers
not yet sent. Input that would go past it is refused (503 / ``RESOURCE_EXHAUSTED``); output
is always counted, so clients that do not read their answers make the worker refuse new
input instead of growing.
"""

import threading


class Budget(object):
    """Bytes in use against a limit, updated from any thread."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def fits(self, size: int) -> bool:
        """Whether ``size`` more bytes stay within the limit (nothing is taken)."""
        return self.used + size <= self.limit

    def take(self, size: int) -> bool:
        """Count ``size`` bytes if they fit; whether they did."""
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def add(self, delta: int) -> None:
        """Count (or, negative, release) bytes whatever the limit: output already made."""
        with self._lock:
            self.used += delta
