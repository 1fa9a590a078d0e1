"""Turns recorded create requests into Codegen runs, first come first served, inside the create limit."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError, CodegenUnavailable, RateLimited, RateLimits
from bot.prompts import with_thread_context
from bot.render.messages import SlackMessage, error_text, queued_message, starting_message
from bot.repos import RepoDirectory, UnknownRepository
from bot.slack_out import UNREACHABLE_CHANNEL, SlackOut
from storage.records import Request, RunRecord
from storage.store import Store

log = logging.getLogger("codegen_slack.creates")

RETRY_MIN_SECONDS = 5.0
RETRY_MAX_SECONDS = 120.0
DELAY_NOTICE = (
    "Codegen is not answering right now; your request is saved and will start as soon as it is back."
)


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
    """One step: start every due create whose turn has come, or say where it is in the queue."""

    def __init__(self, deps: CreateDeps, on_created: Callable[[], None]) -> None:
        self.d = deps
        self._on_created = on_created

    def step(self) -> float | None:
        """Handle due creates in order; returns seconds until the next one is due."""
        now = self.d.clock.now()
        for position, request in enumerate(self.d.store.pending_requests("create"), start=1):
            if request.next_attempt_at > now:
                continue
            if self.d.limits.create.wait_time() > 0:
                self._show_queued(request, position)
                continue
            self._start(request)
        return self._next_delay()

    def _next_delay(self) -> float | None:
        due = self.d.store.next_request_due(self.d.clock.now())
        wait = self.d.limits.create.wait_time()
        if due is None:
            return None
        return max(wait, due - self.d.clock.now(), 0.05)

    def _ensure_status_message(self, request: Request, position: int | None = None) -> Request:
        """Post the request's message once; for a slash command that message roots the thread."""
        if request.status_ts:
            return request
        message = (
            queued_message(request, position, self._eta(position)) if position else starting_message(request)
        )
        ts = self.d.slack.post(request.channel, message, thread_ts=request.thread_ts or None)
        thread_ts = request.thread_ts or ts
        self.d.store.update_request(request.id, status_ts=ts, thread_ts=thread_ts)
        return self.d.store.get_request(request.id) or request

    def _eta(self, position: int | None) -> int:
        return max(1, math.ceil((position or 1) / self.d.creates_per_minute))

    def _show_queued(self, request: Request, position: int) -> None:
        """Tell the requester where they are in the queue, editing only when the position moved."""
        notice = f"queued:{position}"
        if request.notice == notice:
            return
        if request.status_ts:
            self.d.slack.update(
                request.channel, request.status_ts, queued_message(request, position, self._eta(position))
            )
        else:
            request = self._ensure_status_message(request, position)
        self.d.store.update_request(request.id, notice=notice)

    def _start(self, request: Request) -> None:
        try:
            repo_id = None
            if request.options.get("repo"):
                repo_id = self.d.repos.resolve(request.options["repo"]).id
            prompt = self._prompt(request)
            request = self._ensure_status_message(request)
            run = self.d.codegen.create_run(
                prompt,
                images=list(request.images) or None,
                metadata={"slack_channel": request.channel, "slack_thread_ts": request.thread_ts},
                repo_id=repo_id,
                model=request.options.get("model"),
                idempotency_key=request.key,
            )
        except UnknownRepository as exc:
            self._fail(request, str(exc))
            return
        except (CodegenUnavailable, RateLimited) as exc:
            self._retry_later(request, exc)
            return
        except CodegenError as exc:
            self._fail(request, exc.user_message)
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
        self._on_created()

    def _prompt(self, request: Request) -> str:
        if not request.options.get("thread_context"):
            return request.prompt
        messages = self.d.slack.thread_messages(request.channel, request.thread_ts)
        return with_thread_context(request.prompt, messages, skip_ts=request.options.get("message_ts", ""))

    def _fail(self, request: Request, reason: str) -> None:
        """The run cannot be made: say why to the requester, and stop trying."""
        self.d.store.update_request(request.id, state="failed", error=reason)
        text = error_text(f"Couldn't start a Codegen agent: {reason}")
        if request.status_ts:
            self.d.slack.update(request.channel, request.status_ts, SlackMessage(text=text, blocks=[]))
        else:
            self.d.slack.ephemeral(request.channel, request.user, text, thread_ts=request.thread_ts or None)

    def _retry_later(self, request: Request, exc: Exception) -> None:
        attempts = request.attempts + 1
        delay = min(RETRY_MAX_SECONDS, RETRY_MIN_SECONDS * 2 ** (attempts - 1))
        log.warning("request %s: Codegen unavailable (%s); retrying in %.0f s", request.id, exc, delay)
        self.d.store.update_request(request.id, attempts=attempts, next_attempt_at=self.d.clock.now() + delay)
        if request.notice != "delayed" and request.status_ts:
            notice = SlackMessage(text=DELAY_NOTICE, blocks=[])
            self.d.slack.post(request.channel, notice, thread_ts=request.thread_ts)
            self.d.store.update_request(request.id, notice="delayed")

    def _slack_failed(self, request: Request, exc: SlackApiError) -> None:
        error = exc.response.get("error")
        if error in UNREACHABLE_CHANNEL:
            self._fail(
                request, f"I can't post in that channel ({error}). Invite me with /invite, then try again."
            )
            return
        self._retry_later(request, exc)
