"""Live progress: each working run's latest step, from Codegen's run-logs API, inside that API's limit.

The run-logs API allows a number of calls a minute for the whole token (60 by default). Working
runs take turns, the one waiting longest first, each looked up at most every `poll_seconds` and
less often when there are more runs than `share` of the limit allows; the rest of the limit stays
free for "Show steps", which posts a run's last steps in its thread when someone asks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError, CodegenUnavailable, RateLimited, RunNotFound
from bot.render.messages import error_text
from bot.render.steps import latest_step, steps_message
from bot.slack_out import UNREACHABLE_CHANNEL, SlackOut
from storage.records import Request, RunRecord
from storage.store import Store

log = logging.getLogger("codegen_slack.progress")

STEPS_SHOWN = 10
LOGS_PER_LOOKUP = 5  # the newest entries read per lookup, to find one worth describing
OUTAGE_BACKOFF_SECONDS = 15.0
MISSING_RUN_RECHECK_SECONDS = 300.0
STEPS_ATTEMPTS = 3
STEPS_RETRY_SECONDS = 5.0


def lookup_interval(active_runs: int, poll_seconds: float, calls_per_window: float, window: float) -> float:
    """Seconds between two lookups of one run, so that all working runs share `calls_per_window` fairly."""
    return max(poll_seconds, active_runs * window / max(1.0, calls_per_window))


@dataclass
class ProgressDeps:
    """What the progress worker talks to."""

    store: Store
    codegen: CodegenClient
    slack: SlackOut
    clock: Clock
    poll_seconds: float
    share: float


class ProgressWorker:
    """One step: answer "Show steps" requests, then look up the steps of the runs whose turn it is."""

    def __init__(self, deps: ProgressDeps, on_progress: Callable[[], None]) -> None:
        self.d = deps
        self._on_progress = on_progress
        self._logs = deps.codegen.limits.logs

    def step(self) -> float | None:
        """Do what is due; returns seconds until the next lookup or retry is due."""
        now = self.d.clock.now()
        for request in self.d.store.due_requests("steps", now):
            self._show_steps(request)
        interval = lookup_interval(
            self.d.store.count_active_runs(),
            self.d.poll_seconds,
            max(1, math.floor(self.d.share * self._logs.limit)),
            self._logs.window,
        )
        for run in self.d.store.runs_due_for_progress(now):
            wait = self._logs.wait_time(self.d.share)
            if wait > 0:
                return wait
            self._look_up(run, interval)
        return self._next_delay()

    def _next_delay(self) -> float | None:
        due = [r.next_attempt_at for r in self.d.store.pending_requests("steps")]
        progress = self.d.store.next_progress_due()
        if progress is not None:
            due.append(progress)
        return max(0.05, min(due) - self.d.clock.now()) if due else None

    def _look_up(self, run: RunRecord, interval: float) -> None:
        now = self.d.clock.now()
        try:
            page = self.d.codegen.run_logs(
                run.run_id, limit=LOGS_PER_LOOKUP, reverse=True, share=self.d.share
            )
        except RunNotFound:
            self.d.store.record_progress(run.run_id, next_at=now + MISSING_RUN_RECHECK_SECONDS)
            return
        except CodegenError as exc:
            log.warning("run %s: could not read its steps (%s)", run.run_id, exc)
            self.d.store.record_progress(run.run_id, next_at=now + OUTAGE_BACKOFF_SECONDS)
            return
        changed = self.d.store.record_progress(
            run.run_id, next_at=now + interval, step=latest_step(page.logs), count=page.total_logs
        )
        if changed:
            self._on_progress()

    def _show_steps(self, request: Request) -> None:
        """Post the run's last steps in its thread (the logs call may use the whole limit)."""
        assert request.run_id is not None
        try:
            page = self.d.codegen.run_logs(request.run_id, limit=STEPS_SHOWN, reverse=True)
            message = steps_message(request.run_id, page.logs, page.total_logs or len(page.logs))
            self.d.slack.post(request.channel, message, thread_ts=request.thread_ts or None)
        except RunNotFound:
            self._give_up(request, f"Codegen no longer knows run {request.run_id}.")
            return
        except (CodegenUnavailable, RateLimited) as exc:
            self._retry_later(request, exc.user_message)
            return
        except CodegenError as exc:
            self._give_up(request, exc.user_message)
            return
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in UNREACHABLE_CHANNEL:
                self.d.store.update_request(request.id, state="failed", error=error)
            else:
                self._retry_later(request, f"Slack answered {error}.")
            return
        self.d.store.update_request(request.id, state="done", attempts=request.attempts + 1)

    def _retry_later(self, request: Request, reason: str) -> None:
        attempts = request.attempts + 1
        if attempts >= STEPS_ATTEMPTS:
            self._give_up(request, reason)
            return
        self.d.store.update_request(
            request.id, attempts=attempts, next_attempt_at=self.d.clock.now() + STEPS_RETRY_SECONDS * attempts
        )

    def _give_up(self, request: Request, reason: str) -> None:
        self.d.store.update_request(request.id, state="failed", error=reason)
        try:
            self.d.slack.ephemeral(
                request.channel,
                request.user,
                error_text(f"Couldn't show the steps of run {request.run_id}: {reason}"),
                thread_ts=request.thread_ts or None,
            )
        except SlackApiError as exc:
            log.warning("could not tell %s about the steps: %s", request.user, exc.response.get("error"))
