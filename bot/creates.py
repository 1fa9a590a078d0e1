"""Turns recorded create requests into Codegen runs, first come first served, inside the create limit."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError, CodegenUnavailable, RateLimited, RateLimits
from bot.loop import retry_delay
from bot.once import STATUS_MESSAGE_STEP, create_run_once, post_for_request, request_notice
from bot.prompts import create_prompt
from bot.refusals import create_refusal
from bot.render.messages import SlackMessage, error_text, queued_message, starting_message
from bot.repos import RepoDirectory, UnknownRepository
from bot.slack_limits import EDIT, METHOD_LIMITS
from bot.slack_out import UNREACHABLE_CHANNEL, SlackOut
from bot.user_names import UserNames
from storage.records import Request, RunRecord
from storage.store import Store

log = logging.getLogger("codegen_slack.creates")

QUEUE_EDITS_PER_MINUTE = 20  # of Slack's 50 chat.update calls a minute; the rest is the notifier's
QUEUE_EDIT_SHARE = QUEUE_EDITS_PER_MINUTE / METHOD_LIMITS[EDIT]
QUEUE_HEAD = 50  # positions kept current: the requests that start within the next few minutes
NOTICES_PER_STEP = 20  # queued messages posted per step, so starts are never held up for long
NOTICE_RETRY_SECONDS = 1.0
DELAY_NOTICE = (
    "Codegen is not answering right now; your request is saved and will start as soon as it is back."
)
DELAYED, DELAYED_STEP = "delayed", "delayed_notice"
NOTICE_EVENT = "codegen_create_notice"


@dataclass
class CreateDeps:
    """What the create worker talks to."""

    store: Store
    codegen: CodegenClient
    limits: RateLimits
    slack: SlackOut
    repos: RepoDirectory
    clock: Clock
    creates_per_minute: int


class CreateWorker:
    """Starts runs first come first served while the create limit has room, and tells the requests
    that have to wait where they stand.

    Each waiting request gets one message ("queued, position N, starts in about M min") that later
    becomes its run's status message. Positions move whenever a run starts; they are re-edited front
    first, at most `QUEUE_EDITS_PER_MINUTE` edits a minute, so a long queue cannot use up Slack's edit
    limit (a message not yet re-edited overstates the wait, never understates it).
    """

    def __init__(self, deps: CreateDeps, on_settled: Callable[[], None]) -> None:
        self.d = deps
        self._on_settled = on_settled  # a request became a run, or failed for good
        self._names = UserNames(deps.slack, deps.clock)  # thread context names people, not user ids
        # Creates of the last minute (before a restart) still count against Codegen's limit.
        limiter = deps.limits.create
        for _ in range(deps.store.count_runs_created_since(deps.clock.now() - limiter.window)):
            limiter.try_acquire()

    def step(self) -> float | None:
        """Post the messages of newly waiting requests, start the head of the queue if the limit has
        room, and once nothing more can start, bring the positions shown up to date; returns seconds
        until there is more to do."""
        posting = self._slack_effect(self._post_queued)
        if self._start_next():
            return 0.0
        if posting is None:
            posting = self._slack_effect(self._refresh_positions)
        return self._next_delay(posting)

    @staticmethod
    def _slack_effect(action: Callable[[], float | None]) -> float | None:
        """Run a queue-message action; a Slack failure means: try again a little later."""
        try:
            return action()
        except SlackApiError as exc:
            log.warning("queued requests not shown yet (%s); trying again", exc.response.get("error"))
            return NOTICE_RETRY_SECONDS

    def _start_next(self) -> bool:
        """Start the first due request if a create is allowed now; True when one was tried."""
        if self.d.limits.create.wait_time() > 0:
            return False
        head = self.d.store.due_requests("create", self.d.clock.now(), limit=1)
        if head:
            self._start(head[0])
        return bool(head)

    def _next_delay(self, notices: float | None) -> float | None:
        due = self.d.store.next_due_request("create")
        if due is None:
            return None
        delay = max(self.d.limits.create.wait_time(), due - self.d.clock.now(), 0.05)
        return delay if notices is None else min(delay, notices)

    def _post_queued(self) -> float | None:
        """Post the queued message of due requests that wait without one (not of those that start
        now: they get the starting message); 0 when more are left."""
        now = self.d.clock.now()
        starting_now = max(0, self.d.limits.create.limit - self.d.limits.create.used())
        found = self.d.store.requests_without_message("create", now, NOTICES_PER_STEP)
        for request, position in found:
            if position <= starting_now:
                continue
            try:
                self._ensure_status_message(request, position)
            except SlackApiError as exc:
                if exc.response.get("error") == "ratelimited":
                    raise
                self._slack_failed(request, exc)
                continue
            self.d.store.update_request(request.id, notice=f"queued:{position}")
        return 0.0 if len(found) == NOTICES_PER_STEP else None

    def _refresh_positions(self) -> float | None:
        """Edit the queued messages whose position moved, front first, within the edit budget; returns
        seconds until the budget allows the next edit when it ran out first."""
        for position, request in enumerate(self.d.store.queue_head("create", QUEUE_HEAD), start=1):
            notice = f"queued:{position}"
            queued = bool(request.status_ts) and (request.notice or "").startswith("queued:")
            if not queued or request.notice == notice:
                continue
            wait = self.d.slack.limits.wait_time(EDIT, share=QUEUE_EDIT_SHARE)
            if wait > 0:
                return wait
            message = queued_message(request, position, self._eta(position))
            try:
                self.d.slack.update(request.channel, request.status_ts, message)
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error == "ratelimited":
                    raise
                log.warning("request %s: queued message not updated (%s)", request.id, error)
            self.d.store.update_request(request.id, notice=notice)
        return None

    def _ensure_status_message(self, request: Request, position: int | None = None) -> Request:
        """Post the request's message once, even across a crash (found again by its metadata); for a
        slash command that message roots the thread."""
        if request.status_ts:
            return request
        message = (
            queued_message(request, position, self._eta(position)) if position else starting_message(request)
        )
        ts = post_for_request(
            self.d.store,
            self.d.slack,
            request,
            STATUS_MESSAGE_STEP,
            message,
            thread_ts=request.thread_ts or None,
            match={"request_id": request.id},
        )
        thread_ts = request.thread_ts or ts
        self.d.store.update_request(request.id, status_ts=ts, thread_ts=thread_ts)
        return self.d.store.get_request(request.id) or request

    def _eta(self, position: int | None) -> int:
        return max(1, math.ceil((position or 1) / self.d.creates_per_minute))

    def _start(self, request: Request) -> None:
        try:
            repo_id = None
            if request.options.get("repo"):
                repo_id = self.d.repos.resolve(request.options["repo"]).id
            prompt = self._prompt(request)
            request = self._ensure_status_message(request)
            run = create_run_once(
                self.d.store,
                self.d.codegen,
                request,
                prompt,
                images=list(request.images) or None,
                metadata={"slack_channel": request.channel, "slack_thread_ts": request.thread_ts},
                repo_id=repo_id,
                model=request.options.get("model"),
            )
        except UnknownRepository as exc:
            self._fail(request, str(exc))
            return
        except (CodegenUnavailable, RateLimited) as exc:
            self._retry_later(request, exc)
            return
        except CodegenError as exc:
            self._fail(request, create_refusal(exc, request.options.get("model")))
            return
        except SlackApiError as exc:
            self._slack_failed(request, exc)
            return
        now = self.d.clock.now()
        record = RunRecord(
            run_id=run.id,
            channel=request.channel,
            thread_ts=request.thread_ts,
            requester=request.user,
            prompt=request.prompt,
            status=run.status or "ACTIVE",
            repo=request.options.get("repo"),
            model=request.options.get("model"),
            web_url=run.web_url,
            status_ts=request.status_ts,
            created_at=now,
            changed_at=now,
        )
        self.d.store.add_run(record, request_id=request.id)
        log.info("request %s became run %s", request.id, run.id)
        self._on_settled()

    def _prompt(self, request: Request) -> str:
        return create_prompt(request, self.d.slack.thread_messages, self._names.name)

    def _fail(self, request: Request, reason: str) -> None:
        """The run cannot be made: say why to the requester, then stop trying (in that order, so a
        crash in between repeats the message rather than losing it)."""
        text = error_text(f"Couldn't start a Codegen agent: {reason}")
        try:
            self._tell(request, SlackMessage(text=text, blocks=[]))
        except SlackApiError as exc:
            log.warning(
                "request %s failed (%s); could not say so: %s", request.id, reason, exc.response.get("error")
            )
        self.d.store.update_request(request.id, state="failed", error=reason)
        self.d.store.wake_follow_ups(request.id, self.d.clock.now())
        self._on_settled()

    def _tell(self, request: Request, message: SlackMessage) -> None:
        """Show `message` in the request's status message, else only to the requester; by DM when the
        channel is gone."""
        try:
            if request.status_ts:
                self.d.slack.update(request.channel, request.status_ts, message)
            else:
                thread_ts = request.thread_ts or None
                self.d.slack.ephemeral(request.channel, request.user, message.text, thread_ts=thread_ts)
        except SlackApiError as exc:
            if exc.response.get("error") not in UNREACHABLE_CHANNEL:
                raise
            self.d.slack.direct_message(request.user, message)

    def _retry_later(self, request: Request, exc: Exception) -> None:
        attempts = request.attempts + 1
        delay = retry_delay(attempts)
        log.warning("request %s not started yet (%s); retrying in %.0f s", request.id, exc, delay)
        self.d.store.update_request(request.id, attempts=attempts, next_attempt_at=self.d.clock.now() + delay)
        if isinstance(exc, CodegenError) and request.notice != DELAYED and request.status_ts:
            notice = request_notice(request, DELAYED, DELAY_NOTICE, NOTICE_EVENT)
            post_for_request(
                self.d.store, self.d.slack, request, DELAYED_STEP, notice, thread_ts=request.thread_ts
            )
            self.d.store.update_request(request.id, notice=DELAYED)

    def _slack_failed(self, request: Request, exc: SlackApiError) -> None:
        error = exc.response.get("error")
        if error in UNREACHABLE_CHANNEL:
            self._fail(
                request, f"I can't post in that channel ({error}). Invite me with /invite, then try again."
            )
            return
        self._retry_later(request, exc)
