"""One leader among the processes sharing a database: it alone runs the paced work (the job runner
and the watcher's sweeps), so Codegen's per-token limits and Slack's per-method and per-channel
limits, kept in its memory, hold for all replicas together.

Why a leader rather than shared limiter state: every effect is paced by a rate limit that one
process already reaches (see bench/README.md), so spreading jobs over replicas would add no
throughput, while a database round trip per Codegen and Slack call would add latency and load. Every
replica still acknowledges Slack and records work; a follower wakes the leader through PostgreSQL's
NOTIFY.

The lease is renewed every RENEW_SECONDS and runs out LEASE_SECONDS after the last renewal. Each
renewal stores the leader's rate-limit windows with the lease; a clean stop hands the lease back at
once. The next leader counts those windows as its own, plus, after a crash, the most its predecessor
could have used between its last renewal and its death at its pace (`CRASH_MARGIN`), puts back the
jobs its predecessor was running, and counts Codegen creates from the database (bot.creates).
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from bot.clock import Clock
from bot.codegen.limiter import SlidingWindowLimiter
from storage.database import WORK_CHANNEL, StorageError
from storage.leases import Lease, LeaseStore

log = logging.getLogger("codegen_slack.leader")

LEADER = "leader"
LEASE_SECONDS = 10.0
RENEW_SECONDS = 2.0


def process_name() -> str:
    """This process's name in leases and job claims: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def crash_margin(limiter: SlidingWindowLimiter) -> int:
    """Slots a leader that died right before a renewal may have used since it last saved its windows,
    at its limit's average pace."""
    return math.ceil(limiter.limit * RENEW_SECONDS / limiter.window) + 1


@dataclass
class LimitHandoff:
    """The rate-limit windows handed from leader to leader: `windows()` lists every limiter by name,
    `window(name)` finds (or makes) one."""

    windows: Callable[[], dict[str, SlidingWindowLimiter]]
    window: Callable[[str], SlidingWindowLimiter | None]

    def save(self, now: float) -> str:
        """The windows as JSON: seconds since each slot was taken, as of `now` (epoch seconds)."""
        return json.dumps({"saved_at": now, "ages": {n: w.ages() for n, w in self.windows().items()}})

    def load(self, state: str | None, now: float, *, crashed: bool) -> None:
        """Count the slots in `state` (from `save`) as taken here, with the crash margin if `crashed`."""
        try:
            saved: dict[str, Any] = json.loads(state or "{}")
            elapsed = max(0.0, now - float(saved.get("saved_at", now)))
            for name, ages in dict(saved.get("ages", {})).items():
                limiter = self.window(name)
                if limiter is None:
                    continue
                margin = [elapsed] * crash_margin(limiter) if crashed else []
                limiter.restore([float(age) + elapsed for age in ages] + margin)
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("the last leader's rate-limit state could not be read (%s); starting afresh", exc)


class Leadership:
    """Takes and keeps the leader's lease on a thread of its own. `on_lead(lease)` runs each time
    this process becomes leader; `leading` says whether it is now. `force` takes the lease at once
    at start (SQLite: the file lock already proves no other process runs)."""

    def __init__(
        self,
        store: LeaseStore,
        clock: Clock,
        owner: str,
        handoff: LimitHandoff,
        on_lead: Callable[[Lease], None],
        *,
        force: bool = False,
        listen_url: str | None = None,
        on_work: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.owner = owner
        self._handoff = handoff
        self._on_lead = on_lead
        self._force = force
        self._listen_url = listen_url
        self._on_work = on_work
        self._until = 0.0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name="leader", daemon=True)]
        if listen_url:
            self._threads.append(threading.Thread(target=self._listen, name="leader-listen", daemon=True))

    @property
    def leading(self) -> bool:
        """Whether this process holds the leader's lease now."""
        return self._clock.now() < self._until

    def start(self) -> None:
        """Try for the lease now, then keep trying (or renewing) every RENEW_SECONDS."""
        self.step()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop renewing and hand the lease back with the current windows, so the next leader starts
        at once."""
        self._stop.set()
        if self._until:
            self._until = 0.0
            try:
                self._store.release_lease(LEADER, self.owner, state=self._handoff.save(self._clock.now()))
            except StorageError as exc:
                log.warning("the leader's lease could not be handed back (%s); it runs out by itself", exc)

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the threads to end."""
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def step(self) -> None:
        """Renew the lease if held, else try to take it."""
        now = self._clock.now()
        try:
            if self._until:
                state = self._handoff.save(now)
                if self._store.renew_lease(LEADER, self.owner, now=now, seconds=LEASE_SECONDS, state=state):
                    self._until = now + LEASE_SECONDS
                else:
                    self._until = 0.0
                    log.warning("another process took the lead; this one stops running background work")
                return
            lease = self._store.take_lease(
                LEADER, self.owner, now=now, seconds=LEASE_SECONDS, force=self._force
            )
        except StorageError as exc:  # leading() ends by itself when the lease runs out
            log.warning("the leader's lease could not be renewed or taken: %s", exc)
            return
        self._force = False
        if lease is not None:
            log.info("this process leads: it runs the background work")
            crashed = lease.previous_owner not in (None, self.owner) and lease.previous_until > 0
            self._handoff.load(lease.state, now, crashed=crashed)
            self._until = now + LEASE_SECONDS
            self._on_lead(lease)

    def _run(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            self.step()

    def _listen(self) -> None:
        """Wake the runner whenever a follower NOTIFYs that it recorded work (PostgreSQL)."""
        assert self._listen_url is not None
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._listen_url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {WORK_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._on_work()
            except psycopg.Error as exc:
                log.warning("listening for recorded work failed (%s); trying again", exc)
                self._stop.wait(RENEW_SECONDS)
