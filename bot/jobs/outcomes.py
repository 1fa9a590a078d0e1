"""What a job handler returns, each kind's retry policy, and which failures are worth retrying.

A handler returns one outcome (None means Done) or raises; the runner turns what was raised into an
outcome with `classify`, so the same failure means the same thing for every kind of job:

- Codegen: unreachable, 5xx or timeout (CodegenUnavailable), and 429 (RateLimited, with its
  Retry-After) are transient; every other CodegenError (402, 403, 404, 422) is permanent.
- Slack: see bot/slack_errors.py. Gone errors end the effect (handlers catch them where there is a
  fallback), transient ones are retried after Slack's Retry-After, auth errors pause all Slack work.
- The network (OSError) and the database (StorageError) are transient.
- Anything else is a bug in the bot: retried (perhaps the data changes), then dead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.codegen import CodegenError, CodegenUnavailable, RateLimited
from bot.slack_errors import SlackErrorClass, classify_slack_error, retry_after_seconds
from storage.database import StorageError
from storage.records import Job


@dataclass(frozen=True)
class Done:
    """The job's effect happened (or can never be needed again)."""


@dataclass(frozen=True)
class Again:
    """A recurring job did its turn; run it again after `seconds`."""

    seconds: float


@dataclass(frozen=True)
class Defer:
    """Not run: a rate limit has no room; try after `seconds` without counting an attempt. With a
    `resource`, the job keeps its place in line and every job that waits on the same limit is passed
    over until then."""

    seconds: float
    resource: str | None = None


@dataclass(frozen=True)
class Retry:
    """A transient failure: try again after `seconds` (None: the kind's backoff)."""

    error: str
    seconds: float | None = None
    bug: bool = False  # not a failure of Slack or Codegen: dead after BUG_ATTEMPTS


@dataclass(frozen=True)
class Dead:
    """A permanent failure: stop trying; `reason` is in words the person concerned understands."""

    reason: str


@dataclass(frozen=True)
class PauseSlack:
    """Slack refused the bot token: all Slack work waits until it works again."""

    error: str


Outcome = Done | Again | Defer | Retry | Dead | PauseSlack


BUG_ATTEMPTS = 3  # a handler that fails on our own bug is tried this often (the data may change)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a kind of job is retried: `base_seconds` doubling per attempt up to
    `max_seconds`, and dead after `max_attempts` failed attempts."""

    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 120.0

    def delay(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`, after `attempts` failures."""
        return min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its handler and how the runner treats it.

    `gate()` says how many seconds until the kind's rate limit has room (0: now), so the runner
    does not claim jobs that could only be deferred. `exclusive` kinds run one job at a time
    among them (the create queue: first come, first served, each message posted once).
    `notice(job, reason)` is the payload of the message that tells the person concerned when the
    job ends dead (None: nobody to tell; only logged). A kind that `needs_slack` waits while Slack
    refuses the bot token.
    """

    name: str
    handle: Callable[[Job], Outcome | None]
    policy: RetryPolicy = RetryPolicy()
    gate: Callable[[], float] | None = None
    exclusive: bool = False
    notice: Callable[[Job, str], dict[str, object] | None] | None = None
    needs_slack: bool = True


def classify(exc: Exception) -> Outcome:
    """The outcome a failure raised by a handler stands for (see the module docstring)."""
    if isinstance(exc, RateLimited):
        return Retry(str(exc), exc.retry_after)
    if isinstance(exc, CodegenUnavailable):
        return Retry(str(exc))
    if isinstance(exc, CodegenError):
        return Dead(exc.user_message)
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "unknown_error")
        kind = classify_slack_error(error)
        if kind == SlackErrorClass.AUTH:
            return PauseSlack(error)
        if kind == SlackErrorClass.TRANSIENT:
            return Retry(f"Slack answered {error}", retry_after_seconds(exc))
        return Dead(f"Slack refused it ({error}).")
    if isinstance(exc, StorageError | OSError):
        return Retry(f"{type(exc).__name__}: {exc}")
    return Retry(f"unexpected {type(exc).__name__}: {exc}", bug=True)
