"""The `housekeeping` job: hourly, forgets jobs that ended done more than a day ago, so the jobs table
stays small (dead jobs stay for `codegen-slack jobs`), and the messages watch rules matched as long ago."""

from __future__ import annotations

from bot.clock import Clock
from bot.jobs import Again, JobKind, Outcome
from storage.job_kinds import HOUSEKEEPING
from storage.ports import Housekeeping
from storage.records import Job

INTERVAL_SECONDS = 3600.0
KEEP_DONE_SECONDS = 24 * 3600.0


def housekeeping_kind(store: Housekeeping, clock: Clock) -> JobKind:
    """The `housekeeping` job kind: recurring every hour."""

    def handle(job: Job) -> Outcome:
        store.forget_done_jobs(clock.now() - KEEP_DONE_SECONDS)
        store.forget_watch_matches(clock.now() - KEEP_DONE_SECONDS)
        return Again(INTERVAL_SECONDS)

    return JobKind(HOUSEKEEPING, handle, needs_slack=False)
