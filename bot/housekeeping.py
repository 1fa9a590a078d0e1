"""The `housekeeping` job: hourly, forgets jobs that ended done more than a day ago, so the jobs table
stays small (dead jobs stay for `codegen-slack jobs`), the messages watch rules matched as long ago,
and audit entries older than the retention (CODEGEN_SLACK_AUDIT_RETENTION_DAYS). Runs and requests,
with their prompts, are not forgotten here: they stay in the database until it is deleted."""

from __future__ import annotations

from bot.clock import Clock
from bot.jobs import Again, JobKind, Outcome
from storage.job_kinds import HOUSEKEEPING
from storage.ports import Housekeeping
from storage.records import Job

INTERVAL_SECONDS = 3600.0
KEEP_DONE_SECONDS = 24 * 3600.0
DAY_SECONDS = 86_400.0
AUDIT_RETENTION_DAYS = 400


def housekeeping_kind(
    store: Housekeeping, clock: Clock, audit_retention_days: int = AUDIT_RETENTION_DAYS
) -> JobKind:
    """The `housekeeping` job kind: recurring every hour."""

    def handle(job: Job) -> Outcome:
        now = clock.now()
        store.forget_done_jobs(now - KEEP_DONE_SECONDS)
        store.forget_watch_matches(now - KEEP_DONE_SECONDS)
        store.forget_audit(now - audit_retention_days * DAY_SECONDS)
        return Again(INTERVAL_SECONDS)

    return JobKind(HOUSEKEEPING, handle, needs_slack=False)
