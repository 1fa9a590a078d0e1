"""Delivers thread replies to their runs as resume prompts, once each; holds them while the run is busy.

A reply's effects, in order: 👀 on the reply, the prompt sent to the run, and, when the reply had to
wait, a note that it was passed on. Each is noted in the request before it happens (see bot/once.py)
and the request stays pending until all are done, so a crash repeats none and loses none. A prompt
whose sending may have reached Codegen (the process died, or the answer was lost) is looked for in
the run's logs before it is sent again. The prompt waits until the run's last finish has been
announced, so the result is in the thread before the run moves on.

A Stop (a request with the `stop` option, handlers/stop.py) is sent only to a run that has not
finished: Codegen takes follow-ups in finished runs too (COMPLETE, FAILED, …) and would start the run
again. When the run finished (as stored, or as Codegen says just before sending) the Stop is dropped
unsent and the card says so. A status Codegen takes follow-ups in that is not a finished one (a run
paused for input) still gets the Stop: the run has not finished and would work on once answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError, CodegenUnavailable, RunLog, RunNotResumable
from bot.jobs import Again, Dead, Done, JobKind, Outcome, RetryPolicy
from bot.membership import checked_request
from bot.once import post_for_request, request_notice
from bot.render.messages import RECEIVED_REACTION, SlackMessage
from bot.replies import requester_notice
from bot.slack_errors import is_gone, slack_error
from bot.slack_out import SlackOut
from bot.slack_text import name_members
from bot.user_names import UserNames
from storage.database import RESUMED_STEP
from storage.job_kinds import RESUME
from storage.ports import ResumeStore
from storage.records import Job, Request

log = logging.getLogger("codegen_slack.resumes")

WAITING_RECHECK_SECONDS = 60.0
UNMADE_RUN_RECHECK_SECONDS = 10.0
# Codegen may be down a while: a follow-up is tried for about an hour and a half before it is given up.
RESUME_POLICY = RetryPolicy(max_attempts=50, base_seconds=1.0, max_seconds=120.0)
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


@dataclass
class ResumeDeps:
    """What resume jobs talk to."""

    store: ResumeStore
    codegen: CodegenClient
    slack: SlackOut
    clock: Clock
    members: UserNames | None = None  # users.info records shared with the rest of the bot
    check_requester: Callable[[str], str | None] | None = None  # outsiders and guests (bot.membership)


def resume_kind(deps: ResumeDeps, on_resumed: Callable[[], None]) -> JobKind:
    """The `resume` job kind; `on_resumed()` hears that a run took a prompt or finished before its Stop
    was sent (the watcher checks it soon)."""
    job = ResumeJob(deps, on_resumed)
    notice = requester_notice(deps.store, lambda request, reason: f"Couldn't send your follow-up: {reason}")
    return JobKind(RESUME, job.handle, policy=RESUME_POLICY, notice=notice)


class ResumeJob:
    """Delivers one thread reply to its run."""

    def __init__(self, deps: ResumeDeps, on_resumed: Callable[[], None]) -> None:
        self.d = deps
        self._on_resumed = on_resumed
        self._names = deps.members or UserNames(deps.slack, deps.clock)  # follow-ups name people, not ids

    def handle(self, job: Job) -> Outcome | None:
        """Do the reply's remaining effects; waits (without counting attempts) while the run is being
        made, busy, or its result is still to be posted."""
        request = self.d.store.get_request(job.request_id or 0)
        if request is None or request.state != "pending":
            return None
        refused = checked_request(
            self.d.check_requester, self.d.store, self.d.members, request, self.d.clock.now()
        )
        if refused is not None:
            return refused
        try:
            waiting = self._advance(request)
        except CodegenUnavailable:
            self._notice_once(request, DELAYED)
            raise
        if waiting is not None:
            return waiting
        self.d.store.update_request(request.id, state="done")
        log.info("resume %s delivered to run %s", request.id, request.run_id)
        return None

    def _advance(self, request: Request) -> Outcome | None:
        """Do the request's remaining effects; None when all are done, else how long to wait."""
        if request.run_id is None:
            attached = self._attach(request)
            if not isinstance(attached, Request):
                return attached
            request = attached
        run_id = request.run_id
        assert run_id is not None
        request = replace(request, prompt=name_members(request.prompt, self._names.name))
        if self.d.store.announcement_due(run_id):
            return Again(WAITING_RECHECK_SECONDS)  # the announcement wakes it
        self._react(request)
        steps = self.d.store.steps_of(request.id)
        stop_unsent = RESUMED_STEP not in steps and request.options.get("stop")
        if stop_unsent and self._finished(run_id) and self._drop_stop(request, steps):
            return Done()
        if RESUMED_STEP not in steps:
            try:
                self._send(request)
            except RunNotResumable:
                if not request.options.get("stop"):  # a Stop's card says it waits; no notice
                    self._notice_once(request, HELD)
                return Again(WAITING_RECHECK_SECONDS)  # the run's next change wakes it
        if {HELD_STEP, DELAYED_STEP} & steps:  # a wait was announced: say it went on
            self._notice(request, DELIVERED)
        return None

    def _drop_stop(self, request: Request, steps: frozenset[str]) -> bool:
        """End a finished run's Stop unsent (True), unless an earlier attempt delivered it (False: go
        on and note it sent)."""
        assert request.run_id is not None
        if SENDING_STEP in steps and self._arrived(request):
            return False
        self.d.store.drop_stop(request.id, request.run_id, self.d.clock.now())
        self._on_resumed()  # the watcher looks at the run now: its finish is announced soon
        log.info("stop %s dropped: run %s finished before it could be sent", request.id, request.run_id)
        return True

    def _finished(self, run_id: int) -> bool:
        """Whether the run has finished, as stored or else as Codegen says now (the watcher may not
        have seen it yet)."""
        run = self.d.store.get_run(run_id)
        return (run is not None and run.finished) or self.d.codegen.get_run(run_id).is_finished

    def _attach(self, request: Request) -> Request | Again | Dead:
        """A reply written while its run was still being made: the request with its run once the run
        exists (storage attaches it then; this covers a reply recorded just as it did), else how long
        to wait."""
        create = self.d.store.get_request(int(request.options.get("after_create") or 0))
        if create is not None and create.run_id is not None:
            self.d.store.update_request(request.id, run_id=create.run_id)
            return replace(request, run_id=create.run_id)
        if create is None or create.state not in ("pending", "fetching"):
            return Dead("the run it follows up never started.")
        self._react(request)
        return Again(UNMADE_RUN_RECHECK_SECONDS)  # the run's start wakes it

    def _react(self, request: Request) -> None:
        """👀 on the reply (idempotent: Slack refuses a second identical reaction)."""
        message_ts = request.options.get("message_ts")
        if not message_ts or REACTION_STEP in self.d.store.steps_of(request.id):
            return
        try:
            self.d.slack.react(request.channel, message_ts, RECEIVED_REACTION)
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            log.info("resume %s: no reaction, the reply is gone (%s)", request.id, slack_error(exc))
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
        self._on_resumed()

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

    def _notice_once(self, request: Request, kind: str) -> None:
        """Say once that the reply waits (held, or Codegen delayed)."""
        if request.notice is None or (kind == HELD and request.notice != HELD):
            self._notice(request, kind)
            self.d.store.update_request(request.id, notice=kind)

    def _notice(self, request: Request, kind: str) -> None:
        """Post a notice in the reply's thread once (found again by its metadata after a crash)."""
        message = notice_message(request, kind)
        try:
            post_for_request(
                self.d.store, self.d.slack, request, f"{kind}_notice", message, thread_ts=request.thread_ts
            )
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            log.info("resume %s: no %s notice, the thread is gone (%s)", request.id, kind, slack_error(exc))


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
