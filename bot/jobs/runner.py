"""The one runner of background work: claims due jobs, runs each kind's handler, records the outcome.

A few threads each take the most urgent due job whose kind's rate limit has room (`JobKind.gate`),
so one slow or failing job never holds up jobs of other runs, and a kind whose limit is full is
passed over instead of claimed and put back. Every outcome is recorded in one place (`_record`):
done, again after N s, deferred, retried with the kind's backoff, or dead, with its person told
once (a `notice` job), a metric and a log line. When Slack refuses the bot token, Slack work pauses
and the token is tried again every `PAUSE_SECONDS` until it works.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from bot.clock import Clock
from bot.jobs.outcomes import (
    BUG_ATTEMPTS,
    Again,
    Defer,
    Done,
    JobKind,
    Outcome,
    PauseSlack,
    Retry,
    classify,
)
from storage.database import StorageError
from storage.ports import JobQueue
from storage.records import Job, JobStatus

log = logging.getLogger("codegen_slack.jobs")

IDLE_SECONDS = 30.0
ERROR_PAUSE_SECONDS = 1.0
DB_PAUSE_SECONDS = 5.0
PAUSE_SECONDS = 5.0  # auth.test is Tier 4 (100+ calls a minute): trying the token this often is cheap
LEASE_SECONDS = 900.0  # longer than any job takes (Codegen calls time out after 30 s)
MIN_WAIT_SECONDS = 0.01


class Runner:
    """Runs the jobs of `kinds` on `threads` threads; `wake()` after recording new work.

    After an auth error, the kinds that need Slack wait until `probe_slack()` (auth.test) says the
    token works again. `on_dead(kind)` counts a job that ended dead (metrics).
    """

    def __init__(
        self,
        store: JobQueue,
        clock: Clock,
        kinds: list[JobKind],
        *,
        threads: int = 4,
        probe_slack: Callable[[], bool] = lambda: True,
        on_dead: Callable[[str], None] = lambda kind: None,
        owner: str = "",
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._clock = clock
        self._kinds = {kind.name: kind for kind in kinds}
        self._probe_slack = probe_slack
        self._on_dead = on_dead
        self.owner = owner
        self._leading = leading
        self._blocked: dict[str, float] = {}  # resource → until (epoch s)
        self._slack_paused_until: float | None = None
        self._lock = threading.Lock()
        self._signal = threading.Condition()
        self._generation = 0
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"jobs-{n}", daemon=True) for n in range(threads)
        ]

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the threads; they claim jobs only while `leading()` (see bot/leader.py)."""
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """New work was recorded: look for due jobs now."""
        with self._signal:
            self._generation += 1
            self._signal.notify_all()

    def stop(self) -> None:
        """Ask the threads to end after their current job."""
        self._stopping.set()
        self.wake()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the threads to end; True when all have."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    @property
    def slack_paused(self) -> bool:
        """Whether Slack work waits for the bot token to work again."""
        return self._slack_paused_until is not None

    # --- one job -----------------------------------------------------------------------------------

    def run_one(self) -> bool:
        """Claim one due job and run it in this thread; False when none can run now (or this process
        does not lead)."""
        if not self._leading():
            return False
        now = self._clock.now()
        kinds, blocked = self._open_kinds(now)
        job = self._store.claim(
            now,
            kinds=kinds,
            blocked=blocked,
            exclusive=[k.name for k in self._kinds.values() if k.exclusive],
            lease_seconds=LEASE_SECONDS,
            owner=self.owner,
        )
        if job is None:
            return False
        kind = self._kinds[job.kind]
        try:
            outcome = kind.handle(job) or Done()
        except Exception as exc:
            outcome = classify(exc)
        self._record(kind, job, outcome)
        return True

    def drain(self, limit: int = 10_000) -> float | None:
        """Run due jobs in this thread until none can run (tests in fake time); returns seconds until
        one may (None: no job is waiting)."""
        for _ in range(limit):
            if not self.run_one():
                break
        return self.next_wait()

    def next_wait(self) -> float | None:
        """Seconds until a job may be claimable (a due time, a gate or a block passing); None when no
        job is waiting at all, or this process does not lead (it is woken when it starts to)."""
        if not self._leading():
            return None
        now = self._clock.now()
        kinds, blocked = self._open_kinds(now)
        waits: list[float] = []
        due = self._store.next_job_due(kinds, blocked)
        if due is not None:
            waits.append(due - now)
        closed = [name for name in self._kinds if name not in kinds]
        if (closed and self._store.next_job_due(closed) is not None) or (
            blocked and self._store.next_job_due(kinds) is not None
        ):
            waits.extend(self._reopens_in(now))
        return max(MIN_WAIT_SECONDS, min(waits)) if waits else None

    def _open_kinds(self, now: float) -> tuple[list[str], list[str]]:
        """The kinds whose gates are open now, and the resources still blocked."""
        with self._lock:
            self._blocked = {r: t for r, t in self._blocked.items() if t > now}
            blocked = list(self._blocked)
            paused = self._slack_still_paused(now)
        kinds = [
            name
            for name, kind in self._kinds.items()
            if not (paused and kind.needs_slack) and (kind.gate is None or kind.gate() <= 0)
        ]
        return kinds, blocked

    def _reopens_in(self, now: float) -> list[float]:
        """Seconds until each closed gate or block opens."""
        waits = [kind.gate() for kind in self._kinds.values() if kind.gate is not None]
        with self._lock:
            waits += [until - now for until in self._blocked.values()]
            if self._slack_paused_until is not None:
                waits.append(self._slack_paused_until - now)
        return [w for w in waits if w > 0] or [ERROR_PAUSE_SECONDS]

    def _slack_still_paused(self, now: float) -> bool:
        """Whether Slack work is paused; once the pause is over, tries the token (auth.test)."""
        if self._slack_paused_until is None or now < self._slack_paused_until:
            return self._slack_paused_until is not None
        if self._probe_slack():
            log.info("Slack accepts the bot token again; Slack work goes on")
            self._slack_paused_until = None
            return False
        self._slack_paused_until = now + PAUSE_SECONDS
        return True

    # --- outcomes ------------------------------------------------------------------------------------

    def _record(self, kind: JobKind, job: Job, outcome: Outcome) -> None:
        """Write the outcome of one run of `job` (see storage/jobs.py for the moves)."""
        now = self._clock.now()
        try:
            self._write(kind, job, outcome, now)
        except StorageError as exc:  # the lease runs out and the job is taken again later
            log.error("job %s (%s): its outcome could not be recorded: %s", job.id, job.kind, exc)

    def _write(self, kind: JobKind, job: Job, outcome: Outcome, now: float) -> None:
        finish = partial(self._store.finish, job, owner=self.owner)
        if isinstance(outcome, Done):
            finish(JobStatus.DONE, now=now)
        elif isinstance(outcome, Again):
            finish(JobStatus.QUEUED, now=now, run_after=now + outcome.seconds, reset_attempts=True)
        elif isinstance(outcome, Defer):
            if outcome.resource:  # it keeps its place in line; the block holds it and its peers back
                with self._lock:
                    self._blocked[outcome.resource] = now + outcome.seconds
                finish(JobStatus.QUEUED, now=now)
            else:
                finish(JobStatus.QUEUED, now=now, run_after=now + outcome.seconds)
        elif isinstance(outcome, PauseSlack):
            with self._lock:
                if self._slack_paused_until is None:
                    log.error(
                        "Slack refused the bot token (%s); Slack work waits until it works", outcome.error
                    )
                    self._slack_paused_until = now + PAUSE_SECONDS
            finish(JobStatus.QUEUED, now=now, run_after=now + PAUSE_SECONDS, error=outcome.error)
        elif isinstance(outcome, Retry):
            attempts = job.attempts + 1
            limit = BUG_ATTEMPTS if outcome.bug else kind.policy.max_attempts
            if attempts >= limit:
                self._dead(kind, job, outcome.error, now)
                return
            delay = outcome.seconds if outcome.seconds is not None else kind.policy.delay(attempts)
            log.warning("job %s (%s) failed: %s; attempt %d of %d, next in %.1f s",
                        job.id, job.kind, outcome.error, attempts, limit, delay)  # fmt: skip
            finish(
                JobStatus.RETRYING,
                now=now,
                run_after=now + delay,
                error=outcome.error,
                count_attempt=True,
            )
        else:
            self._dead(kind, job, outcome.reason, now)

    def _dead(self, kind: JobKind, job: Job, reason: str, now: float) -> None:
        """The job ends dead: recorded with its error, its person told once, counted and logged."""
        notice = None
        if kind.notice is not None:
            try:
                notice = kind.notice(job, reason)
            except Exception as exc:  # telling must not stop the recording
                log.error("job %s (%s): no notice could be made: %s", job.id, job.kind, exc)
        log.error("job %s (%s, %s) is dead after %d attempt(s): %s",
                  job.id, job.kind, job.key, job.attempts + 1, reason)  # fmt: skip
        self._store.finish(
            job, JobStatus.DEAD, now=now, error=reason, count_attempt=True, notice=notice, owner=self.owner
        )
        self._on_dead(job.kind)

    # --- threads -------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._signal:
                generation = self._generation
            try:
                if self.run_one():
                    continue
                wait = self.next_wait()
            except StorageError as exc:  # the database is unavailable: pause, then try again
                log.error(
                    "the job runner could not claim work (%s); trying again in %.0f s", exc, DB_PAUSE_SECONDS
                )
                wait = DB_PAUSE_SECONDS
            except Exception:  # a bug: its traceback, then try again shortly
                log.exception("the job runner could not claim work; trying again shortly")
                wait = ERROR_PAUSE_SECONDS
            with self._signal:
                if self._generation == generation and not self._stopping.is_set():
                    self._signal.wait(IDLE_SECONDS if wait is None else min(wait, IDLE_SECONDS))
