"""Create jobs: recorded requests become Codegen runs, first come first served, inside the create limit.

One create runs at a time (the kind is exclusive) and only while Codegen's create limit has room
(its gate), so requests start in the order they were made. A create that fails for good leaves
the queue: its job ends dead and the requester is told (bot/replies.py), and the next one starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import AgentRun, CodegenClient, CodegenError, CodegenUnavailable, RateLimited, RateLimits
from bot.jobs import Dead, JobKind, Outcome, RetryPolicy
from bot.membership import checked_request
from bot.once import STATUS_MESSAGE_STEP, create_run_once, post_for_request, request_notice
from bot.prompts import OutsiderContext, create_prompt, cut_note
from bot.refusals import create_refusal
from bot.render.messages import SlackMessage
from bot.render.status_card import starting_message
from bot.replies import requester_notice
from bot.repos import RepoDirectory, UnknownRepository
from bot.slack_errors import UNREACHABLE_CHANNEL, is_gone, slack_error
from bot.slack_out import SlackOut
from bot.user_names import UserNames
from storage.job_kinds import CREATE
from storage.ports import CreateStore
from storage.records import Job, Request, RequestWithdrawn, RunRecord

log = logging.getLogger("codegen_slack.creates")

DELAY_NOTICE = (
    "Codegen is not answering right now; your request is saved and will start as soon as it is back."
)
DELAYED, DELAYED_STEP = "delayed", "delayed_notice"
CUT, CUT_STEP = "cut", "cut_notice"
DELAY_NOTICE_AFTER = 3  # failed attempts (about 3 s) before the thread is told Codegen is not answering
NOTICE_EVENT = "codegen_create_notice"
# Codegen may be down for a while: a create is tried for about an hour and a half before it is given up.
CREATE_POLICY = RetryPolicy(max_attempts=50, base_seconds=1.0, max_seconds=120.0)


@dataclass
class CreateDeps:
    """What create jobs talk to."""

    store: CreateStore
    codegen: CodegenClient
    limits: RateLimits
    slack: SlackOut
    repos: RepoDirectory
    clock: Clock
    outsiders: Callable[[], OutsiderContext] | None = None  # how thread context treats outsiders
    members: UserNames | None = None  # users.info records shared with the rest of the bot
    check_requester: Callable[[str], str | None] | None = None  # outsiders and guests (bot.membership)
    describe_requester: Callable[[str], dict[str, object]] | None = None  # who asked, for the run's metadata


def refill_create_limiter(store: CreateStore, limits: RateLimits, now: float) -> None:
    """Count the creates of the last minute (made before a restart, or by the last leader) against
    Codegen's limit, beyond those the limiter already counts."""
    limiter = limits.create
    for _ in range(store.count_runs_created_since(now - limiter.window) - limiter.used()):
        limiter.try_acquire()


def create_kind(deps: CreateDeps, on_started: Callable[[], None]) -> JobKind:
    """The `create` job kind; `on_started()` hears that a run was made (the watcher checks it soon)."""
    worker = CreateJob(deps, on_started)
    return JobKind(
        CREATE,
        worker.handle,
        policy=CREATE_POLICY,
        gate=deps.limits.create.wait_time,
        exclusive=True,
        notice=requester_notice(
            deps.store,
            lambda request, reason: f"Couldn't start a Codegen agent: {reason}",
            in_status_message=True,
        ),
    )


def post_status_message(deps: CreateDeps, request: Request, message: SlackMessage) -> None:
    """Post a request's status message once, even across a crash (found again by its metadata), and
    store its ts; for a slash command that message roots the thread, and the bot first joins a public
    channel it is not in, so that replies in that thread reach it."""
    if not request.thread_ts and request.channel.startswith("C"):
        deps.slack.join(request.channel)
    ts = post_for_request(
        deps.store, deps.slack, request, STATUS_MESSAGE_STEP, message,
        thread_ts=request.thread_ts or None, match={"request_id": request.id},
    )  # fmt: skip
    deps.store.update_request(request.id, status_ts=ts, thread_ts=request.thread_ts or ts)


class CreateJob:
    """Starts the run of one create request (its status message first, so the thread exists)."""

    def __init__(self, deps: CreateDeps, on_started: Callable[[], None]) -> None:
        self.d = deps
        self._on_started = on_started
        # thread context names people, not user ids
        self._names = deps.members or UserNames(deps.slack, deps.clock)

    def handle(self, job: Job) -> Outcome | None:
        """Make the request's run; raises what Codegen or Slack raised (the runner classifies it)."""
        assert job.request_id is not None
        request = self.d.store.get_request(job.request_id)
        if request is None or request.state != "pending":
            return None
        refused = checked_request(
            self.d.check_requester, self.d.store, self.d.members, request, self.d.clock.now()
        )
        if refused is not None:
            return refused
        try:
            repo_id = (
                self.d.repos.resolve(request.options["repo"]).id if request.options.get("repo") else None
            )
            prompt = self._prompt(request)
            request = self._ensure_status_message(request)
            self._say_what_was_cut(request, prompt)
            run = self._start(request, prompt, repo_id)
        except UnknownRepository as exc:
            return Dead(str(exc))
        except RequestWithdrawn:
            log.info("request %s was cancelled before its run was made", request.id)
            return None
        except (CodegenUnavailable, RateLimited):
            if job.attempts + 1 >= DELAY_NOTICE_AFTER:  # a blip that passes at once says nothing
                self._say_delayed(request)
            raise
        except CodegenError as exc:
            return Dead(create_refusal(exc, request.options.get("model")))
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in UNREACHABLE_CHANNEL:
                return Dead(f"I can't post in that channel ({error}). Invite me with /invite, and try again.")
            if is_gone(exc) and request.thread_ts and not request.status_ts:
                # The message that asked was deleted before the run began: the request is withdrawn.
                log.info("request %s: its message is gone (%s); no run is started", request.id, error)
                self.d.store.update_request(
                    request.id, state="failed", error=f"its message is gone ({error})"
                )
                return None
            raise
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
        self._on_started()
        return None

    def _metadata(self, request: Request) -> dict[str, object]:
        """The run's place in Slack, and who asked (bot.membership.requester_metadata)."""
        requester = self.d.describe_requester(request.user) if self.d.describe_requester else {}
        return {"slack_channel": request.channel, "slack_thread_ts": request.thread_ts, **requester}

    def _start(self, request: Request, prompt: str, repo_id: int | None) -> AgentRun:
        """Make the request's run in Codegen, once (see bot/once.py)."""
        return create_run_once(
            self.d.store,
            self.d.codegen,
            request,
            prompt,
            images=list(request.images) or None,
            metadata=self._metadata(request),
            repo_id=repo_id,
            model=request.options.get("model"),
            agent_type=request.options.get("agent_type"),
        )

    def _ensure_status_message(self, request: Request) -> Request:
        """Post the request's message once, even across a crash (found again by its metadata); for a
        slash command that message roots the thread."""
        if request.status_ts:
            return request
        post_status_message(self.d, request, starting_message(request))
        return self.d.store.get_request(request.id) or request

    def _prompt(self, request: Request) -> str:
        outsiders = self.d.outsiders() if self.d.outsiders else None
        return create_prompt(request, self.d.slack.thread_messages, self._names.name, outsiders)

    def _say_what_was_cut(self, request: Request, prompt: str) -> None:
        """Tell the thread, once, what had to be left out of the prompt (the agent is told in it)."""
        note = cut_note(prompt)
        if note is not None:
            message = request_notice(request, CUT, note, NOTICE_EVENT)
            post_for_request(
                self.d.store, self.d.slack, request, CUT_STEP, message, thread_ts=request.thread_ts
            )

    def _say_delayed(self, request: Request) -> None:
        """Codegen is not answering: say so once in the request's thread (found again after a crash)."""
        if request.notice == DELAYED or not request.status_ts:
            return
        notice = request_notice(request, DELAYED, DELAY_NOTICE, NOTICE_EVENT)
        try:
            post_for_request(
                self.d.store, self.d.slack, request, DELAYED_STEP, notice, thread_ts=request.thread_ts
            )
        except SlackApiError as exc:
            log.warning("request %s: the delay notice was not posted (%s)", request.id, slack_error(exc))
            return
        self.d.store.update_request(request.id, notice=DELAYED)
