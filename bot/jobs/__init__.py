"""The job core: outcomes and policies (outcomes.py) and the runner (runner.py); storage/jobs.py
keeps the jobs and documents their lifecycle."""

from bot.jobs.outcomes import Again, Dead, Defer, Done, JobKind, Outcome, Retry, RetryPolicy
from bot.jobs.runner import Runner

__all__ = ["Again", "Dead", "Defer", "Done", "JobKind", "Outcome", "Retry", "RetryPolicy", "Runner"]
