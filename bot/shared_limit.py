"""A rate limit that all replicas on one PostgreSQL database count against together.

The leader runs the paced background work, so the limits it keeps in its memory hold for all
replicas (bot/leader.py). A few calls cannot wait for the leader: they are made while Slack waits for
the ack, on whichever replica got the request. The one such call that a burst of requests makes
often is users.info (who is asking: bot/membership.py). Slack limits it per workspace, so three
replicas each keeping its whole limit in memory would make three times the calls Slack allows, and
Slack's 429 would hold the ack. Its slots are counted in the database instead (storage/slots.py):
one short write transaction per call, only for a person not in the process's cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from bot.clock import Clock


class SlotLedger(Protocol):
    """Storage of shared slots (storage/slots.py)."""

    def take_slot(self, name: str, *, limit: int, window: float, now: float) -> tuple[int | None, float]: ...
    def slot_wait(self, name: str, *, limit: int, window: float, now: float) -> float: ...
    def stamp_slot(self, slot_id: int, at: float) -> None: ...


class SharedWindow:
    """At most `limit` calls named `name` in any `window` seconds, over every process on the database:
    what SlackOut and its callers use of a SlidingWindowLimiter (`slot`, `wait_time`)."""

    def __init__(self, ledger: SlotLedger, name: str, limit: int, window: float, clock: Clock) -> None:
        self._ledger = ledger
        self.name = name
        self.limit = limit
        self.window = window
        self._clock = clock

    def _capacity(self, share: float) -> int:
        return max(1, int(share * self.limit))

    def wait_time(self, share: float = 1.0) -> float:
        """Seconds until a slot would be free for `share` of the limit."""
        return self._ledger.slot_wait(
            self.name, limit=self._capacity(share), window=self.window, now=self._clock.now()
        )

    @contextmanager
    def slot(self, share: float = 1.0) -> Iterator[None]:
        """Hold a slot for one call, sleeping until one is free; it counts from when the call ends."""
        while True:
            slot_id, wait = self._ledger.take_slot(
                self.name, limit=self._capacity(share), window=self.window, now=self._clock.now()
            )
            if slot_id is not None:
                break
            self._clock.sleep(wait)
        try:
            yield
        finally:
            self._ledger.stamp_slot(slot_id, self._clock.now())
