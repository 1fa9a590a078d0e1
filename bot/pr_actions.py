"""`pr_action` jobs: one click on a run's PR buttons, carried out through Codegen.

Each job, in order: the Codegen call (a PR state through `PATCH …/prs/{pr_id}`, or remove-from-pr,
ban or unban of the run), recorded with the PR's new state and who acted; the outcome posted in the
run's thread, once (found again by its metadata after a crash); the card edited to show the PR's
state. A recorded call is not made again when a later step is retried. Codegen's refusals (403, 404,
422, or a PR edit answered `success: false`) are said in the thread in words; an unreachable or
busy Codegen is retried by the runner (bot/jobs/outcomes.py `classify`), inside the call's own
rate limit, and when it gives up the person who clicked is told privately.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.codegen import (
    AccessDenied,
    CodegenClient,
    CodegenError,
    CodegenUnavailable,
    InvalidRequest,
    PullRequestNotFound,
    RateLimited,
    RunNotFound,
)
from bot.jobs import Defer, JobKind, Outcome, RetryPolicy
from bot.membership import requester_outcome
from bot.render.messages import SlackMessage, error_text
from bot.render.pr_actions import ACTIONS, PRAction, pr_name
from bot.render.status_card import status_message
from bot.slack_errors import is_gone, slack_error
from bot.slack_out import SlackOut
from storage.job_kinds import PR_ACTION
from storage.ports import PRActionStore
from storage.records import Job, PullRequest, RunRecord

log = logging.getLogger("codegen_slack.pr_actions")

PR_ACTION_EVENT = "codegen_pr_action"
# A person waits for the outcome: tried for about a quarter of an hour, then they are told.
PR_ACTION_POLICY = RetryPolicy(max_attempts=12, base_seconds=1.0, max_seconds=120.0)


@dataclass
class PRActionDeps:
    """What PR action jobs talk to."""

    store: PRActionStore
    codegen: CodegenClient
    slack: SlackOut
    clock: Clock
    check_requester: Callable[[str], str | None] | None = None  # bot.membership.requester_check


def pr_action_payload(run: RunRecord, pr_id: int, action_id: str, user: str) -> dict[str, Any]:
    """The job's payload: which action on which PR of which run, and who asked."""
    return {"run_id": run.run_id, "pr_id": pr_id, "action": action_id, "user": user}


def pr_action_kind(deps: PRActionDeps) -> JobKind:
    """The `pr_action` job kind."""
    job = PRActionJob(deps)
    return JobKind(PR_ACTION, job.handle, policy=PR_ACTION_POLICY, notice=job.notice)


class PRActionJob:
    """Carries out one PR action (see the module docstring)."""

    def __init__(self, deps: PRActionDeps) -> None:
        self.d = deps

    def handle(self, job: Job) -> Outcome | None:
        """Make the call unless it was recorded, then tell the thread and show it on the card."""
        run = self.d.store.get_run(int(job.payload["run_id"]))
        action = ACTIONS.get(str(job.payload.get("action")))
        if run is None or action is None:
            return None
        pr_id, user = int(job.payload["pr_id"]), str(job.payload["user"])
        refused_person = requester_outcome(self.d.check_requester, user)  # outsiders, guests, the gate
        if refused_person is not None:
            return refused_person
        index, pr = next(((i, p) for i, p in enumerate(run.pull_requests) if p.id == pr_id), (0, None))
        name = pr_name(pr, index) if pr else f"pull request {pr_id}"
        if not self.d.store.pr_change_done(job.key):
            limiter = self.d.codegen.limits.pr_edits if action.state else self.d.codegen.limits.standard
            wait = limiter.wait_time()
            if wait > 0:
                return Defer(wait)
            try:
                refused = self._call(run, pr_id, action)
            except (CodegenUnavailable, RateLimited):
                raise
            except CodegenError as exc:
                refused = explain(exc, action, run)
            if refused is not None:
                text = f"⚠️ <@{user}> couldn't {action.verb.format(pr=name)}: {refused}"
                self._post(run, job, text, outcome="refused")
                return None
            self._record(run, pr_id, action, job.key, user)
        self._post(run, job, f"<@{user}> {action.done.format(pr=name)}.", outcome="done")
        self._show(run.run_id)
        return None

    def notice(self, job: Job, reason: str) -> dict[str, object] | None:
        """Whoever clicked is told privately, in the run's thread, when the action was given up."""
        run = self.d.store.get_run(int(job.payload["run_id"]))
        action = ACTIONS.get(str(job.payload.get("action")))
        if run is None or action is None:
            return None
        text = error_text(f"Couldn't {action.verb.format(pr='the pull request')}: {reason}")
        return {"user": job.payload["user"], "channel": run.channel, "thread_ts": run.thread_ts, "text": text}

    def _call(self, run: RunRecord, pr_id: int, action: PRAction) -> str | None:
        """The Codegen call; returns why GitHub refused a PR edit, or None when it was done."""
        if action.state is not None:
            result = self.d.codegen.edit_pull_request(pr_id, action.state)
            if not result.success:
                return f"GitHub didn't allow it ({result.error or 'no reason given'})."
            return None
        assert action.flag_call is not None
        self.d.codegen.flag_pull_request(run.run_id, action.flag_call)
        return None

    def _record(self, run: RunRecord, pr_id: int, action: PRAction, key: str, user: str) -> None:
        """A state is one PR's; the flag calls act on the run, so on each of its PRs."""
        pr_ids = [pr_id]
        if action.flag_call:
            pr_ids += [p.id for p in run.pull_requests if p.id is not None and p.id != pr_id]
        flags: dict[str, bool] = {}
        if action.flag_call == "remove-from-pr":
            flags = {"removed": True, "checks_stopped": True}
        elif action.flag_call:
            flags = {"checks_stopped": action.flag_call == "ban"}
        self.d.store.record_pr_change(
            run.run_id, pr_ids, key=key, action=action.action_id, user=user, now=self.d.clock.now(),
            state=action.state, **flags,
        )  # fmt: skip

    def _post(self, run: RunRecord, job: Job, text: str, *, outcome: str) -> None:
        """Post the outcome in the run's thread once; a thread that is gone is only logged."""
        payload = {"key": job.key, "run_id": run.run_id, "outcome": outcome}
        message = SlackMessage(
            text=text,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            metadata={"event_type": PR_ACTION_EVENT, "event_payload": payload},
        )
        try:
            self.d.slack.post_once(
                run.channel,
                message,
                thread_ts=run.thread_ts,
                retrying=job.attempts > 0,
                match={"key": job.key},
            )
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            log.info(
                "run %s: PR action outcome not posted, the thread is gone (%s)", run.run_id, slack_error(exc)
            )

    def _show(self, run_id: int) -> None:
        """Edit the run's card to show what is now known of its PRs."""
        run = self.d.store.get_run(run_id)
        if run is None or not run.status_ts:
            return
        controls = self.d.store.run_controls(run_id, run.channel, run.thread_ts)
        message = status_message(run, self.d.clock.now(), controls, self.d.store.pr_states(run_id))
        try:
            self.d.slack.update(run.channel, run.status_ts, message)
        except SlackApiError as exc:
            if not is_gone(exc):
                raise


def explain(error: CodegenError, action: PRAction, run: RunRecord) -> str:
    """Why Codegen refused a PR action, in words (403, 404, 422, others as Codegen said)."""
    if isinstance(error, AccessDenied):
        where = f" to {run.repo}" if run.repo else " to the repository"
        return (
            "Codegen refused (403): the GitHub account behind the bot's Codegen token has no write"
            f" access{where}, or the token no longer reaches the organization. Whoever runs the bot"
            " can grant it."
        )
    if isinstance(error, PullRequestNotFound):
        return "Codegen doesn't know this pull request (404); it may have been deleted."
    if isinstance(error, RunNotFound):
        return f"Codegen can't find run #{run.run_id} (404) any more."
    if isinstance(error, InvalidRequest):
        return f"Codegen refused it as invalid (422): {error.user_message}"
    return error.user_message


def pr_of(run: RunRecord, pr_id: int) -> PullRequest | None:
    """The run's pull request with Codegen id `pr_id`."""
    return next((pr for pr in run.pull_requests if pr.id == pr_id), None)
