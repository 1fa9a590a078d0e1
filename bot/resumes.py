"""Delivers thread replies to their runs as resume prompts, once each; holds them while the run is busy.

A reply's effects, in order: 👀 on the reply, the prompt sent to the run, and, when the reply had to
wait, a note that it was passed on. Each is noted in the request before it happens (see bot/once.py)
and the request stays pending until all are done, so a crash repeats none and loses none. A prompt
whose sending may have reached Codegen (the process died, or the answer was lost) is looked for in
the run's logs before it is sent again. The prompt waits until the run's last finish has been
announced, so the result is in the thread before the run moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError, CodegenUnavailable, RateLimited, RunLog, RunNotResumable
from bot.loop import retry_delay
from bot.once import post_for_request, request_notice
from bot.render.messages import RECEIVED_REACTION, SlackMessage, error_text
from bot.slack_out import UNREACHABLE_CHANNEL, SlackOut
from bot.slack_text import name_members
from bot.user_names import UserNames
from storage.records import Request
from storage.store import RESUMED_STEP, Store

log = logging.getLogger("codegen_slack.resumes")

WAITING_RECHECK_SECONDS = 60.0
UNMADE_RUN_RECHECK_SECONDS = 10.0
ANNOUNCEMENT_WAIT_SECONDS = 0.25
HELD_NOTICE = (
    "The agent is still working, so it can't take your message yet. "
    "I'll pass it on as soon as the run pauses or finishes."
)
DELIVERED_NOTICE = "Passed your follow-up on to the agent."
NOTICE_EVENT = "codegen_resume_notice"
DELAYED_NOTICE = (
    "Codegen is not answering right now; your follow-up is saved and will be passed on when it is back."
)
HELD, DELIVERED, DELAYED = "held", "delivered", "delayed"
NOTICE_TEXTS = {HELD: HELD_NOTICE, DELIVERED: DELIVERED_NOTICE, DELAYED: DELAYED_NOTICE}
HELD_STEP, DELAYED_STEP = f"{HELD}_notice", f"{DELAYED}_notice"
SENDING_STEP = "sending"
REACTION_STEP = "reacted"
USER_MESSAGE = "USER_MESSAGE"
LOG_PAGE = 100
# The reply or its channel is gone: the 👀 (or a notice) is skipped, the prompt still goes out.
GONE = UNREACHABLE_CHANNEL | {"message_not_found"}


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
        self._started = False
        self._names = UserNames(deps.slack, deps.clock)  # follow-ups name people, not user ids

    def step(self) -> float | None:
        """Deliver due resumes; returns seconds until the next one is due."""
        if not self._started:
            self.d.store.wake_resumes_of_paused_runs(self.d.clock.now())
            self._started = True
        for request in self.d.store.due_requests("resume", self.d.clock.now()):
            self._deliver(request)
        due = self.d.store.next_request_due(self.d.clock.now())
        return None if due is None else max(0.05, due - self.d.clock.now())

    def _deliver(self, request: Request) -> None:
        try:
            done = self._advance(request)
        except (CodegenUnavailable, RateLimited, SlackApiError, OSError) as exc:
            self._retry_later(request, exc)
            return
        except CodegenError as exc:
            self._refuse(request, exc.user_message)
            return
        if done:
            self.d.store.update_request(request.id, state="done", attempts=request.attempts + 1)
            log.info("resume %s delivered to run %s", request.id, request.run_id)

    def _advance(self, request: Request) -> bool:
        """Do the request's remaining effects; True when all are done, False when it must wait."""
        if request.run_id is None:
            attached = self._attach(request)
            if attached is None:
                return False
            request = attached
        assert request.run_id is not None
        request = replace(request, prompt=name_members(request.prompt, self._names.name))
        if self.d.store.announcement_due(request.run_id):
            self._wait(request, ANNOUNCEMENT_WAIT_SECONDS)
            return False
        self._react(request)
        if RESUMED_STEP not in _steps(request):
            try:
                self._send(request)
            except RunNotResumable:
                self._hold(request)
                return False
            self._on_resumed()
        if {HELD_STEP, DELAYED_STEP} & set(_steps(request)):  # a wait was announced: say it went on
            self._notice(request, DELIVERED)
        return True

    def _attach(self, request: Request) -> Request | None:
        """A reply written while its run was still being made: the request with its run once the run
        exists (storage attaches it then; this covers a reply recorded just as it did), else None."""
        create = self.d.store.get_request(int(request.options.get("after_create") or 0))
        if create is not None and create.run_id is not None:
            self.d.store.update_request(request.id, run_id=create.run_id)
            return replace(request, run_id=create.run_id)
        if create is None or create.state not in ("pending", "fetching"):
            self._refuse(request, "the run it follows up never started.")
            return None
        self._react(request)
        self._wait(request, UNMADE_RUN_RECHECK_SECONDS)
        return None

    def _react(self, request: Request) -> None:
        """👀 on the reply (idempotent: Slack refuses a second identical reaction)."""
        message_ts = request.options.get("message_ts")
        if not message_ts or REACTION_STEP in _steps(request):
            return
        try:
            self.d.slack.react(request.channel, message_ts, RECEIVED_REACTION)
        except SlackApiError as exc:
            if exc.response.get("error") not in GONE:
                raise
            log.info("resume %s: no reaction, the reply is gone (%s)", request.id, exc.response.get("error"))
        self.d.store.note_step(request.id, REACTION_STEP)  # noted after: a second 👀 is harmless

    def _send(self, request: Request) -> None:
        """Send the prompt, unless an earlier attempt that may have reached Codegen did."""
        assert request.run_id is not None
        if self.d.store.note_step(request.id, SENDING_STEP) and self._arrived(request):
            log.info("resume %s had reached run %s (an earlier attempt)", request.id, request.run_id)
        else:
            try:
                self.d.codegen.resume_run(request.run_id, request.prompt, images=list(request.images) or None)
            except CodegenUnavailable:
                raise  # it may have arrived: the next attempt looks first
            except CodegenError:
                self.d.store.forget_step(request.id, SENDING_STEP)  # refused, so surely not delivered
                raise
        self.d.store.mark_resumed(request.run_id, self.d.clock.now(), request_id=request.id)

    def _arrived(self, request: Request) -> bool:
        """Whether the run's log holds this prompt more often than other requests delivered it."""
        assert request.run_id is not None
        before = self.d.store.count_delivered_resumes(request.run_id, request.prompt, besides=request.id)
        seen = skip = 0
        while True:
            page = self.d.codegen.run_logs(request.run_id, skip=skip, limit=LOG_PAGE, reverse=True)
            seen += sum(_is_prompt(entry, request.prompt) for entry in page.logs)
            skip += len(page.logs)
            if seen > before:
                return True
            if not page.logs or skip >= (page.total_logs or 0):
                return False

    def _hold(self, request: Request) -> None:
        """The run is busy: keep the prompt, tell the user once, and retry when the run changes."""
        self._wait(request, WAITING_RECHECK_SECONDS, attempts=request.attempts + 1)
        if request.notice != HELD:
            self._notice(request, HELD)
            self.d.store.update_request(request.id, notice=HELD)

    def _notice(self, request: Request, kind: str) -> None:
        """Post a notice in the reply's thread once (found again by its metadata after a crash)."""
        message = notice_message(request, kind)
        try:
            post_for_request(
                self.d.store, self.d.slack, request, f"{kind}_notice", message, thread_ts=request.thread_ts
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in GONE:
                raise
            log.info(
                "resume %s: no %s notice, the thread is gone (%s)", request.id, kind, exc.response["error"]
            )

    def _refuse(self, request: Request, reason: str) -> None:
        """Codegen refused the prompt for good: tell the requester (at least once), then stop trying."""
        try:
            self.d.slack.ephemeral(
                request.channel,
                request.user,
                error_text(f"Couldn't send your follow-up: {reason}"),
                thread_ts=request.thread_ts,
            )
        except (SlackApiError, OSError) as exc:
            log.warning("resume %s refused (%s); could not tell the requester: %s", request.id, reason, exc)
        self.d.store.update_request(request.id, state="failed", error=reason)

    def _wait(self, request: Request, seconds: float, **changes: object) -> None:
        self.d.store.update_request(request.id, next_attempt_at=self.d.clock.now() + seconds, **changes)

    def _retry_later(self, request: Request, exc: Exception) -> None:
        attempts = request.attempts + 1
        delay = retry_delay(attempts)
        log.warning("resume %s not delivered (%s); retrying in %.0f s", request.id, exc, delay)
        self._wait(request, delay, attempts=attempts)
        if isinstance(exc, CodegenUnavailable) and request.notice is None:
            self._notice(request, DELAYED)
            self.d.store.update_request(request.id, notice=DELAYED)


def notice_message(request: Request, kind: str) -> SlackMessage:
    """A notice about a resume request (held, delayed, delivered), marked with metadata to be found again."""
    return request_notice(request, kind, NOTICE_TEXTS[kind], NOTICE_EVENT)


def _steps(request: Request) -> list[str]:
    return list(request.options.get("steps", []))


def _is_prompt(entry: RunLog, prompt: str) -> bool:
    """Whether a log entry is the user message `prompt` (the observation is text or a JSON object)."""
    if entry.message_type != USER_MESSAGE:
        return False
    observation = entry.observation
    texts = observation.values() if isinstance(observation, dict) else [observation]
    return any(isinstance(text, str) and text.strip() == prompt.strip() for text in texts)
