"""Live progress: each working run's latest step, from Codegen's run-logs API, inside that API's limit.

The run-logs API allows a number of calls a minute for the whole token (60 by default). Each
working run has a recurring `progress` job; the runner takes them while `share` of the limit has
room (the gate), the one waiting longest first, each run at most every `poll_seconds` and less often
when there are more runs than the share allows. The rest of the limit stays free for "Show steps"
(bot/steps.py).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError, RunNotFound
from bot.jobs import Again, JobKind, Outcome
from bot.render.steps import latest_step
from storage.job_kinds import PROGRESS
from storage.ports import ProgressStore
from storage.records import Job

log = logging.getLogger("codegen_slack.progress")

LOGS_PER_LOOKUP = 5  # the newest entries read per lookup, to find one worth describing
OUTAGE_BACKOFF_SECONDS = 15.0
MISSING_RUN_RECHECK_SECONDS = 300.0


def lookup_interval(active_runs: int, poll_seconds: float, calls_per_window: float, window: float) -> float:
    """Seconds between two lookups of one run, so that all working runs share `calls_per_window` fairly."""
    return max(poll_seconds, active_runs * window / max(1.0, calls_per_window))


@dataclass
class ProgressDeps:
    """What progress jobs talk to."""

    store: ProgressStore
    codegen: CodegenClient
    clock: Clock
    poll_seconds: float
    share: float


def progress_kind(deps: ProgressDeps) -> JobKind:
    """The `progress` job kind: recurring while its run works."""
    logs = deps.codegen.limits.logs
    return JobKind(
        PROGRESS, ProgressJob(deps).handle, gate=lambda: logs.wait_time(deps.share), needs_slack=False
    )


class ProgressJob:
    """One lookup of one run's latest step."""

    def __init__(self, deps: ProgressDeps) -> None:
        self.d = deps
        self._logs = deps.codegen.limits.logs

    def handle(self, job: Job) -> Outcome | None:
        """Look the run's steps up; again after its turn comes round, done once it finished."""
        assert job.run_id is not None
        run = self.d.store.get_run(job.run_id)
        if run is None or run.finished:
            return None
        try:
            page = self.d.codegen.run_logs(
                run.run_id, limit=LOGS_PER_LOOKUP, reverse=True, share=self.d.share
            )
        except RunNotFound:
            return Again(MISSING_RUN_RECHECK_SECONDS)
        except CodegenError as exc:  # progress is best effort: never dead while the run works
            log.warning("run %s: could not read its steps (%s)", run.run_id, exc)
            return Again(OUTAGE_BACKOFF_SECONDS)
        self.d.store.record_progress(
            run.run_id, now=self.d.clock.now(), step=latest_step(page.logs), count=page.total_logs
        )
        interval = lookup_interval(
            self.d.store.count_active_runs(),
            self.d.poll_seconds,
            max(1, math.floor(self.d.share * self._logs.limit)),
            self._logs.window,
        )
        return Again(interval)
