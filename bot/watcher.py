"""Keeps every working run's state fresh inside a fixed share of Codegen's standard rate limit.

One call of the list endpoint (this token's API runs, newest first, 100 a page) refreshes up to a
hundred runs; a GET refreshes one. Each sweep refreshes every due run with the fewest calls: pages
from the top down to the deepest due run, and single GETs for due runs so far down that paging to
them would cost more (or that the list does not show). Every working run a page shows is refreshed
with it, due or not.

A run is due again after an interval that grows with how long it has been quiet: every second
while it is new or has just changed, then 1/120 of its quiet time (a run quiet for ten minutes is
checked every five seconds), at most twice `poll_seconds`. Calls are spaced evenly at the watcher's
share of the limit, so with more runs than the share can refresh each second, sweeps follow each
other at the pace the budget allows instead of stalling for a whole window, and the rest of the
limit stays free for commands and resumes. Each step makes one call and records what it saw at once,
so a finish on the first page is announced without waiting for the rest of the sweep.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.codegen import AgentRun, CodegenClient, CodegenError, RunNotFound
from bot.codegen.http_calls import PAGE_SIZE
from storage.ports import WatcherStore
from storage.records import PullRequest, StatusCheck, WatchedRun

log = logging.getLogger("codegen_slack.watcher")

FRESH_SECONDS = 1.0
QUIET_FACTOR = 120.0
OUTAGE_BACKOFF_SECONDS = 10.0
MISSING_RUN_RECHECK_SECONDS = 300.0


def check_interval(quiet_for: float, poll_seconds: float) -> float:
    """Seconds until the next check of a run that has been quiet for `quiet_for` seconds."""
    return min(2 * poll_seconds, max(FRESH_SECONDS, quiet_for / QUIET_FACTOR))


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep fetches: the first `pages` list pages, then these run ids one GET each."""

    pages: int
    singles: tuple[int, ...]


def plan_sweep(due: dict[int, int], watched_depths: list[int]) -> SweepPlan:
    """The plan with the fewest calls that refreshes every due run (run id → estimated depth in the
    list); between plans as cheap, the one that refreshes the most working runs (`watched_depths`)."""
    deepest = max(due.values(), default=-1)

    def cost(pages: int) -> tuple[int, int]:
        covered = pages * PAGE_SIZE
        singles = sum(depth >= covered for depth in due.values())
        refreshed = sum(depth < covered for depth in watched_depths) + singles
        return pages + singles, -refreshed

    pages = min(range(deepest // PAGE_SIZE + 2), key=cost)
    singles = tuple(run_id for run_id, depth in due.items() if depth >= pages * PAGE_SIZE)
    return SweepPlan(pages=pages, singles=singles)


class Pacer:
    """Spaces calls evenly, `gap` seconds apart, so a sliding window never holds more than its share."""

    def __init__(self, gap: float, clock: Clock) -> None:
        self._gap = gap
        self._clock = clock
        self._next = clock.monotonic()

    def wait(self) -> float:
        """Seconds until the next call may go."""
        return max(0.0, self._next - self._clock.monotonic())

    def take(self) -> None:
        """Count one call, made now."""
        self._next = self._clock.monotonic() + self._gap


@dataclass
class Sweep:
    """One sweep in progress: the working runs it may see, the pages still to read, then the GETs."""

    watched: dict[int, WatchedRun]
    plan: SweepPlan
    targets: set[int]  # due runs expected on the pages and not seen yet
    singles: deque[int] = field(default_factory=deque)
    unlisted: set[int] = field(default_factory=set)  # due runs the list turned out not to show
    skip: int = 0
    pages_read: int = 0
    offset: int | None = None  # how much deeper than estimated the runs were found

    @property
    def paging(self) -> bool:
        """Whether the next call reads a list page."""
        return bool(self.targets)

    @property
    def done(self) -> bool:
        """Whether nothing is left to fetch."""
        return not self.targets and not self.singles

    def read_page(self, items: list[AgentRun], total: int) -> list[AgentRun]:
        """Take one list page; returns the working runs on it and decides whether to read on."""
        seen = [run for run in items if run.id in self.watched]
        for index, run in enumerate(items, start=self.skip):
            if run.id in self.watched:
                found_offset = index - self.watched[run.id].depth
                self.offset = found_offset if self.offset is None else max(self.offset, found_offset)
        self.targets -= {run.id for run in seen}
        self.skip += len(items)
        self.pages_read += 1
        deepest = min(self.targets, default=0)
        passed = not items or self.skip >= total or min(run.id for run in items) <= deepest
        if passed:
            self.unlisted = set(self.targets)
        # Past the planned pages, read on only while that stays cheaper than a GET per run left.
        if passed or self.pages_read - self.plan.pages >= len(self.targets):
            self.singles.extend(sorted(self.targets, reverse=True))
            self.targets = set()
        return seen


class Watcher:
    """One step: one Codegen call of the current sweep, recorded at once."""

    def __init__(
        self,
        *,
        store: WatcherStore,
        codegen: CodegenClient,
        clock: Clock,
        poll_seconds: float,
        share: float,
        on_change: Callable[[int], None],
    ) -> None:
        self._store = store
        self._codegen = codegen
        self._clock = clock
        self._poll = poll_seconds
        self._share = share
        self._on_change = on_change
        limiter = codegen.limits.standard
        capacity = max(1, math.floor(share * limiter.limit))
        self._pacer = Pacer(limiter.window / capacity, clock)
        self._user_id: int | None = None
        self._sweep: Sweep | None = None
        self._offset = 0  # runs in the list that storage does not know, above the watched ones
        self._unlisted: set[int] = set()  # working runs the list did not show: fetched one by one

    def step(self) -> float | None:
        """Make the next call of the sweep (planning one if due); returns seconds until the next step."""
        if self._sweep is None:
            self._sweep = self._plan()
            if self._sweep is None:
                return self._until_due()
        wait = self._pacer.wait()
        if wait > 0:
            return wait
        self._pacer.take()
        sweep = self._sweep
        try:
            self._advance(sweep)
        except CodegenError as exc:
            log.warning("run status check failed: %s", exc)
            self._sweep = None
            return OUTAGE_BACKOFF_SECONDS
        if not sweep.done:
            return self._pacer.wait()
        self._sweep = None
        if sweep.offset is not None:
            self._offset = sweep.offset
        return self._until_due()

    def _until_due(self) -> float | None:
        due = self._store.next_check_due()
        return None if due is None else max(0.0, due - self._clock.now())

    def _plan(self) -> Sweep | None:
        """A sweep for the runs due now, or None when none is."""
        now = self._clock.now()
        watched = {run.run_id: run for run in self._store.watched_runs()}
        self._unlisted &= watched.keys()
        due = [run for run in watched.values() if run.next_check_at <= now]
        if not due:
            return None
        listed = {r.run_id: max(0, r.depth + self._offset) for r in due if r.run_id not in self._unlisted}
        plan = plan_sweep(listed, [max(0, r.depth + self._offset) for r in watched.values()])
        unlisted = [r.run_id for r in due if r.run_id in self._unlisted]
        return Sweep(
            watched=watched,
            plan=plan,
            targets=set(listed) - set(plan.singles) if plan.pages else set(),
            singles=deque([*plan.singles, *unlisted]),
        )

    def _advance(self, sweep: Sweep) -> None:
        """One call: the next list page, or the next single GET."""
        if sweep.paging and self._user_id is None:
            self._user_id = self._codegen.me().id  # once: the list is filtered to this token's runs
            return
        if sweep.paging:
            page = self._codegen.list_runs(
                user_id=self._user_id, source_type="API", skip=sweep.skip, limit=PAGE_SIZE, share=self._share
            )
            self._record(sweep, sweep.read_page(page.items, page.total))
            self._unlisted |= sweep.unlisted
            return
        run_id = sweep.singles.popleft()
        try:
            run = self._codegen.get_run(run_id, share=self._share)
        except RunNotFound:
            log.warning("Codegen no longer knows run %s; checking again later", run_id)
            now = self._clock.now()
            self._store.record_checks([StatusCheck(run_id, now + MISSING_RUN_RECHECK_SECONDS)], now)
            return
        self._record(sweep, [run])

    def _record(self, sweep: Sweep, runs: list[AgentRun]) -> None:
        now = self._clock.now()
        fresh = now + check_interval(0.0, self._poll)
        checks = [
            StatusCheck(
                run_id=run.id,
                next_check_at=now + check_interval(now - sweep.watched[run.id].quiet_since, self._poll),
                next_check_if_changed=fresh,
                status=run.status,
                result=run.result,
                summary=run.summary,
                web_url=run.web_url,
                pull_requests=pull_requests(run),
            )
            for run in runs
            if run.id in sweep.watched
        ]
        for run_id in self._store.record_checks(checks, now):
            self._on_change(run_id)


def pull_requests(run: AgentRun) -> tuple[PullRequest, ...]:
    """The run's pull requests as storage records."""
    return tuple(
        PullRequest(title=pr.title, url=pr.url, head_branch=pr.head_branch_name, id=pr.id)
        for pr in run.github_pull_requests or []
    )
