"""Client-side rate limiting: sliding windows that keep the bot inside Codegen's documented limits.

A slot is a request. `SlidingWindowLimiter.acquire` stamps a slot with the time it is taken;
`SlidingWindowLimiter.slot` holds it while the request is in flight and stamps it with the time the
answer came back, so the server, which counts the request somewhere in between, never sees more
than `limit` requests in any window even when requests are slow or the clock jumps.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.clock import Clock, SystemClock


class SlidingWindowLimiter:
    """At most `limit` slots in any `window` seconds; thread-safe, shareable between clients.

    `share` (0 < share <= 1) lets a background caller take a slot only while fewer than
    floor(share * limit) slots (at least one) are in use, so interactive callers with share=1.0
    always find some room.
    """

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._stamps: deque[float] = deque()
        self._in_flight = 0
        self._penalty_until = -math.inf
        self._cond = threading.Condition()

    def acquire(self, share: float = 1.0) -> None:
        """Take a slot, sleeping on the clock until one is free."""
        self._reserve(share, in_flight=False)

    def try_acquire(self, share: float = 1.0) -> bool:
        """Take a slot if one is free right now; never waits."""
        with self._cond:
            now = self._clock.monotonic()
            if self._wait_locked(now, share) > 0:
                return False
            self._stamps.append(now)
            return True

    @contextmanager
    def slot(self, share: float = 1.0) -> Iterator[None]:
        """Hold a slot for the duration of a request; it counts from the moment the block ends."""
        self._reserve(share, in_flight=True)
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._stamps.append(self._clock.monotonic())
                self._cond.notify_all()

    def wait_time(self, share: float = 1.0) -> float:
        """Seconds until a slot would be free for `share` (requests in flight count as ending now)."""
        with self._cond:
            return self._wait_locked(self._clock.monotonic(), share)

    def used(self) -> int:
        """Slots taken in the current window, including requests still in flight."""
        with self._cond:
            self._prune(self._clock.monotonic())
            return len(self._stamps) + self._in_flight

    def ages(self) -> list[float]:
        """Seconds since each slot of the current window was taken (requests in flight: 0), to hand
        this window to another process (see bot/leader.py)."""
        with self._cond:
            now = self._clock.monotonic()
            self._prune(now)
            return [now - stamp for stamp in self._stamps] + [0.0] * self._in_flight

    def restore(self, ages: Iterable[float]) -> None:
        """Count slots that another process took `ages` seconds ago as taken in this window."""
        with self._cond:
            now = self._clock.monotonic()
            taken = [now - age for age in ages if 0 <= age < self.window]
            self._stamps = deque(sorted([*self._stamps, *taken]))
            self._cond.notify_all()

    def penalize(self, seconds: float) -> None:
        """Hand out no slot for the next `seconds` (after a 429 with Retry-After)."""
        with self._cond:
            until = self._clock.monotonic() + max(0.0, seconds)
            self._penalty_until = max(self._penalty_until, until)

    def _reserve(self, share: float, *, in_flight: bool) -> None:
        while True:
            with self._cond:
                now = self._clock.monotonic()
                wait = self._wait_locked(now, share)
                if wait <= 0:
                    if in_flight:
                        self._in_flight += 1
                    else:
                        self._stamps.append(now)
                    return
                if self._in_flight >= self._capacity(share):
                    # Requests still on the wire stand in the way: wait for one to end.
                    if now >= self._penalty_until:
                        self._cond.wait()
                        continue
                    wait = self._penalty_until - now
            # Sleep without the lock, then look again: other threads may have taken the slot.
            self._clock.sleep(wait)

    def _capacity(self, share: float) -> int:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        return max(1, math.floor(share * self.limit))

    def _prune(self, now: float) -> None:
        while self._stamps and self._stamps[0] + self.window <= now:
            self._stamps.popleft()

    def _wait_locked(self, now: float, share: float) -> float:
        capacity = self._capacity(share)
        self._prune(now)
        penalty = max(0.0, self._penalty_until - now)
        over = len(self._stamps) + self._in_flight - capacity
        if over < 0:
            return penalty
        # Slot `over` (oldest first; in-flight ones count as ending now) must leave the window.
        expiry = self._stamps[over] + self.window if over < len(self._stamps) else now + self.window
        return max(penalty, expiry - now)


@dataclass(frozen=True)
class RateLimits:
    """One limiter per Codegen limit class; make one per process and share it."""

    create: SlidingWindowLimiter
    standard: SlidingWindowLimiter
    logs: SlidingWindowLimiter
    pr_edits: SlidingWindowLimiter  # PATCH …/prs/{pr_id}: 30 a minute
    setup_commands: SlidingWindowLimiter  # POST …/setup-commands/generate: 5 a minute

    def windows(self) -> dict[str, SlidingWindowLimiter]:
        """Each limiter by its limit class."""
        return {"create": self.create, "standard": self.standard, "logs": self.logs}

    @classmethod
    def from_counts(
        cls,
        *,
        creates_per_minute: int = 10,
        calls_per_30s: int = 60,
        log_calls_per_minute: int = 60,
        pr_edits_per_minute: int = 30,
        setup_commands_per_minute: int = 5,
        clock: Clock | None = None,
    ) -> RateLimits:
        """Build the limiters from Codegen's documented (or a plan's) request counts."""
        clock = clock or SystemClock()
        return cls(
            create=SlidingWindowLimiter(creates_per_minute, 60.0, clock),
            standard=SlidingWindowLimiter(calls_per_30s, 30.0, clock),
            logs=SlidingWindowLimiter(log_calls_per_minute, 60.0, clock),
            pr_edits=SlidingWindowLimiter(pr_edits_per_minute, 60.0, clock),
            setup_commands=SlidingWindowLimiter(setup_commands_per_minute, 60.0, clock),
        )
