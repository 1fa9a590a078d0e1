"""Keeps every working run's state fresh inside a share of Codegen's standard rate limit.

Many runs are refreshed per request through the list endpoint (up to 100 runs a call,
newest first), paging only as deep as the oldest run due; a few runs, or a lone old run
far down the list, are cheaper to fetch one by one. Runs that changed recently are
checked every `poll_seconds`; quiet ones back off to twice that, so a finished run is
still seen within about twice poll_seconds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.clock import Clock
from bot.codegen import AgentRun, CodegenClient, CodegenError, RunNotFound
from storage.records import PullRequest, RunRecord
from storage.store import Store

log = logging.getLogger("codegen_slack.watcher")

PAGE_SIZE = 100
QUIET_FACTOR = 12.0
OUTAGE_BACKOFF_SECONDS = 10.0
MISSING_RUN_RECHECK_SECONDS = 300.0


@dataclass
class WatchPlan:
    """What one sweep will fetch: list pages (how many) or these run ids one by one."""

    pages: int
    singles: list[int]


def plan_sweep(due: list[RunRecord], runs_since_oldest: int) -> WatchPlan:
    """Choose the cheaper way to refresh `due`: one GET each, or list pages down to the oldest."""
    pages = max(1, math.ceil(runs_since_oldest / PAGE_SIZE))
    if len(due) <= pages:
        return WatchPlan(pages=0, singles=[run.run_id for run in due])
    return WatchPlan(pages=pages, singles=[])


def quiet_interval(run: RunRecord, now: float, poll_seconds: float) -> float:
    """Seconds until the next check of an unchanged run: backs off from poll_seconds to twice that."""
    quiet_for = now - max(run.changed_at, run.created_at)
    return min(2 * poll_seconds, max(poll_seconds, quiet_for / QUIET_FACTOR))


def pull_requests(run: AgentRun) -> tuple[PullRequest, ...]:
    """The run's pull requests as storage records."""
    return tuple(
        PullRequest(title=pr.title or pr.url, url=pr.url, head_branch=pr.head_branch_name)
        for pr in run.github_pull_requests or []
    )


class Watcher:
    """One step: refresh the runs that are due and record what changed."""

    def __init__(
        self,
        *,
        store: Store,
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
        self._user_id: int | None = None

    def step(self) -> float | None:
        """Refresh due runs; returns seconds until the next run is due."""
        now = self._clock.now()
        due = self._store.due_runs(now)
        if due:
            plan = plan_sweep(due, self._store.count_runs_since(due[0].run_id))
            try:
                seen = self._fetch(plan, oldest=due[0].run_id)
            except CodegenError as exc:
                log.warning("run status check failed: %s", exc)
                return OUTAGE_BACKOFF_SECONDS
            self._record(due, seen)
        next_due = self._store.next_check_due()
        return None if next_due is None else max(0.05, next_due - self._clock.now())

    def _fetch(self, plan: WatchPlan, oldest: int) -> dict[int, AgentRun | None]:
        """Fresh state per run id; None for a run Codegen no longer knows."""
        seen: dict[int, AgentRun | None] = {}
        if plan.pages:
            seen.update((run.id, run) for run in self._list_down_to(oldest))
        for run_id in plan.singles:
            seen[run_id] = self._get(run_id)
        return seen

    def _get(self, run_id: int) -> AgentRun | None:
        try:
            return self._codegen.get_run(run_id, share=self._share)
        except RunNotFound:
            return None

    def _list_down_to(self, oldest: int) -> Iterable[AgentRun]:
        """Pages of this token's API runs, newest first, until the page that holds `oldest`."""
        if self._user_id is None:
            self._user_id = self._codegen.me().id
        skip = 0
        while True:
            page = self._codegen.list_runs(
                user_id=self._user_id, source_type="API", skip=skip, limit=PAGE_SIZE, share=self._share
            )
            yield from page.items
            skip += len(page.items)
            if not page.items or min(r.id for r in page.items) <= oldest or skip >= page.total:
                return

    def _record(self, due: list[RunRecord], seen: dict[int, AgentRun | None]) -> None:
        now = self._clock.now()
        for run in due:
            fresh = seen[run.run_id] if run.run_id in seen else self._get(run.run_id)
            if fresh is None:
                log.warning("Codegen no longer knows run %s; checking again later", run.run_id)
                self._store.record_check(run.run_id, now=now, next_check_at=now + MISSING_RUN_RECHECK_SECONDS)
                continue
            changed = self._store.record_check(
                run.run_id,
                now=now,
                next_check_at=now + quiet_interval(run, now, self._poll),
                next_check_if_changed=now + self._poll,
                status=fresh.status,
                result=fresh.result,
                summary=fresh.summary,
                web_url=fresh.web_url,
                pull_requests=pull_requests(fresh),
            )
            if changed:
                self._on_change(run.run_id)
