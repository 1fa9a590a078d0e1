"""A run's pull-request buttons (on its finished card, or from `/codegen pr`): who may use them, and the
`pr_action` job each click records (bot/pr_actions.py carries it out)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.pr_actions import pr_action_payload, pr_of
from bot.render.messages import SlackMessage, error_text
from bot.render.pr_actions import ACTIONS, actionable_prs, pr_action_blocks
from handlers.context import HandlerContext
from storage.audit import PR_ACTION as ACTED_ON_PR
from storage.audit import REFUSED
from storage.job_kinds import PR_ACTION, PRIORITY
from storage.records import RunRecord

UNKNOWN_RUN = "I don't know that run any more."
UNKNOWN_PR = "That pull request is no longer one of the run's."
NO_RUN = "I don't know that run. `/codegen list` shows your recent runs."
_VALUE_RE = re.compile(r"([0-9]{1,18}):([0-9]{1,18})")


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the PR buttons' listener."""

    @app.action(re.compile(f"^({'|'.join(ACTIONS)})$"))
    def pr_action(ack: Ack, body: dict[str, Any]) -> None:
        action = body["actions"][0]
        user = body["user"]["id"]
        refusal = record_pr_action(ctx, action, user)
        ack()
        if refusal:
            channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
            message = body.get("message") or {}
            thread = message.get("thread_ts") or message.get("ts")
            key = f"action:{user}:{action.get('action_ts')}" if action.get("action_ts") else None
            if channel:
                ctx.tell_privately(channel, user, refusal, thread, key=key)


def record_pr_action(ctx: HandlerContext, action: dict[str, Any], user: str) -> str | None:
    """Record the job for one click; returns why it was refused (None when recorded)."""
    value = _VALUE_RE.fullmatch(str(action.get("value") or ""))
    run = ctx.store.get_run(int(value.group(1))) if value else None
    if run is None or value is None:
        return error_text(UNKNOWN_RUN)
    pr_id = int(value.group(2))
    if pr_of(run, pr_id) is None:
        return error_text(UNKNOWN_PR)
    action_id = str(action["action_id"])
    if not ctx.may_act_on_run(user, run.requester):
        ctx.record_audit(
            user, ACTED_ON_PR, channel=run.channel, run_id=run.run_id, outcome=REFUSED,
            detail=f"{action_id} on PR {pr_id}: not the requester or an admin",
        )  # fmt: skip
        return (  # not error_text: the mention must stay a mention
            f":warning: Only {_mention(run.requester)}, who started run #{run.run_id}, or an admin of "
            "this bot can change its pull requests."
        )
    stamp = action.get("action_ts") or ctx.clock.now()
    ctx.store.add_job(
        PR_ACTION,
        f"{PR_ACTION}:{run.run_id}:{pr_id}:{action_id}:{user}:{stamp}",
        now=ctx.clock.now(),
        priority=PRIORITY[PR_ACTION],
        run_id=run.run_id,
        payload=pr_action_payload(run, pr_id, action_id, user),
    )
    ctx.record_audit(
        user, ACTED_ON_PR, channel=run.channel, run_id=run.run_id, detail=f"{action_id} on PR {pr_id}"
    )
    ctx.wake()
    return None


def pr_reply(
    ctx: HandlerContext, run_id: int | None, *, user: str, channel: str, thread_ts: str | None = None
) -> str | SlackMessage:
    """The answer to `/codegen pr [run id]`: the run's pull requests with their buttons, or why not.
    Without an id: the run of the thread it was asked in (a mention), else `user`'s latest here."""
    run = _pick(ctx, run_id, user=user, channel=channel, thread_ts=thread_ts)
    if run is None:
        return error_text(NO_RUN)
    if not actionable_prs(run):
        if run.pull_requests:  # stored by an older version, which did not keep Codegen's PR ids
            return f"Run #{run.run_id}'s pull requests can't be changed from Slack; use Codegen or GitHub."
        return f"Run #{run.run_id} has no pull requests (yet)."
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Pull requests of run #{run.run_id}*"}},
        *pr_action_blocks(run, ctx.store.pr_states(run.run_id)),
    ]
    return SlackMessage(text=f"Pull requests of run #{run.run_id}", blocks=blocks)


def _pick(
    ctx: HandlerContext, run_id: int | None, *, user: str, channel: str, thread_ts: str | None
) -> RunRecord | None:
    if run_id is not None:
        return ctx.store.get_run(run_id)
    in_thread = ctx.store.run_for_thread(channel, thread_ts) if thread_ts else None
    if in_thread is not None:
        return in_thread
    recent = ctx.store.runs_for_user(user, 1, channel=channel)
    return recent[0] if recent else None


def _mention(user: str) -> str:
    return f"<@{user}>" if user else "the person"
