"""A fake clock for tests: sleeping advances time at once instead of waiting."""

from __future__ import annotations

import threading


class FakeClock:
    """Implements bot.clock.Clock; share one instance between the client and the test servers."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()
        self._t = start
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._t

    def monotonic(self) -> float:
        return self.now()

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        with self._lock:
            self.slept.append(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`."""
        with self._lock:
            self._t += seconds
