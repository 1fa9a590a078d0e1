"""A background loop: a thread that runs one step at a time and sleeps until woken or due (the watcher's
sweeps; every per-record effect is a job, see bot/jobs)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("codegen_slack.worker")

IDLE_SECONDS = 30.0
ERROR_BACKOFF_SECONDS = 5.0


class Worker:
    """Calls `step()` (which returns seconds until it wants to run again) until stopped.

    `wake()` makes it run its next step at once; an exception in a step is logged and
    the step is tried again after a pause, so one bad record cannot stop the bot.
    """

    def __init__(self, name: str, step: Callable[[], float | None]) -> None:
        self.name = name
        self._step = step
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def wake(self) -> None:
        """Run the next step now."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the thread to end after its current step."""
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` for the thread to end; True when it has."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                delay = self._step()
            except Exception:
                log.exception("%s: step failed; retrying in %.0f s", self.name, ERROR_BACKOFF_SECONDS)
                delay = ERROR_BACKOFF_SECONDS
            wait = IDLE_SECONDS if delay is None else max(0.0, delay)
            if wait > 0:
                self._wake.wait(wait)
