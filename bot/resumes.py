"""Delivers thread replies to their runs as resume prompts; holds them while the run is busy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError, CodegenUnavailable, RateLimited, RunNotResumable
from bot.render.messages import RECEIVED_REACTION, SlackMessage, error_text
from bot.slack_out import SlackOut
from storage.records import Request
from storage.store import Store

log = logging.getLogger("codegen_slack.resumes")

WAITING_RECHECK_SECONDS = 60.0
RETRY_MIN_SECONDS = 5.0
RETRY_MAX_SECONDS = 120.0
HELD_NOTICE = (
    "The agent is still working, so it can't take your message yet. "
    "I'll pass it on as soon as the run pauses or finishes."
)
DELIVERED_NOTICE = "Passed your follow-up on to the agent."


@dataclass
class ResumeDeps:
    """What the resume worker talks to."""

    store: Store
    codegen: CodegenClient
    slack: SlackOut
    clock: Clock


class ResumeWorker:
    """One step: try every due resume once, in the order they were written."""

    def __init__(self, deps: ResumeDeps, on_resumed: Callable[[], None]) -> None:
        self.d = deps
        self._on_resumed = on_resumed

    def step(self) -> float | None:
        """Deliver due resumes; returns seconds until the next one is due."""
        for request in self.d.store.due_requests("resume", self.d.clock.now()):
            self._deliver(request)
        due = self.d.store.next_request_due(self.d.clock.now())
        return None if due is None else max(0.05, due - self.d.clock.now())

    def _deliver(self, request: Request) -> None:
        assert request.run_id is not None
        message_ts = request.options.get("message_ts")
        try:
            if request.attempts == 0 and message_ts:
                self.d.slack.react(request.channel, message_ts, RECEIVED_REACTION)
            self.d.codegen.resume_run(request.run_id, request.prompt, images=list(request.images) or None)
        except RunNotResumable:
            self._hold(request)
            return
        except (CodegenUnavailable, RateLimited, SlackApiError) as exc:
            self._retry_later(request, exc)
            return
        except CodegenError as exc:
            self.d.store.update_request(request.id, state="failed", error=exc.user_message)
            self.d.slack.ephemeral(
                request.channel,
                request.user,
                error_text(f"Couldn't send your follow-up: {exc.user_message}"),
                thread_ts=request.thread_ts,
            )
            return
        now = self.d.clock.now()
        self.d.store.mark_resumed(request.run_id, now)
        self.d.store.update_request(request.id, state="done", attempts=request.attempts + 1)
        if request.notice == "held":
            self.d.slack.post(
                request.channel, SlackMessage(text=DELIVERED_NOTICE, blocks=[]), thread_ts=request.thread_ts
            )
        log.info("resume %s delivered to run %s", request.id, request.run_id)
        self._on_resumed()

    def _hold(self, request: Request) -> None:
        """The run is busy: keep the prompt, tell the user once, and retry when the run changes."""
        update: dict[str, object] = {
            "attempts": request.attempts + 1,
            "next_attempt_at": self.d.clock.now() + WAITING_RECHECK_SECONDS,
        }
        if request.notice != "held":
            self.d.slack.post(
                request.channel, SlackMessage(text=HELD_NOTICE, blocks=[]), thread_ts=request.thread_ts
            )
            update["notice"] = "held"
        self.d.store.update_request(request.id, **update)

    def _retry_later(self, request: Request, exc: Exception) -> None:
        attempts = request.attempts + 1
        delay = min(RETRY_MAX_SECONDS, RETRY_MIN_SECONDS * 2 ** (attempts - 1))
        log.warning("resume %s not delivered (%s); retrying in %.0f s", request.id, exc, delay)
        self.d.store.update_request(request.id, attempts=attempts, next_attempt_at=self.d.clock.now() + delay)
