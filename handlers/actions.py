"""The status card's buttons: link buttons (acknowledged only), Show steps, Retry and Follow up."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.command_text import RunCommand
from bot.render.cards import FOLLOW_UP, OPEN_PR_PREFIX, OPEN_RUN, RETRY, SHOW_STEPS, can_retry
from bot.render.messages import error_text
from handlers.context import HandlerContext
from handlers.intake import record_run_request
from handlers.modals import follow_up_refusal, open_follow_up_modal
from storage.audit import RETRY as RETRY_ACTION
from storage.records import RunRecord

UNKNOWN_RUN = "I don't know that run any more."
NOT_RETRYABLE = "Only a failed run can be retried."
ALREADY_RETRIED = "This run was retried already; the new run's card is in this thread."


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the button listeners."""

    @app.action(re.compile(f"^({OPEN_RUN}|{OPEN_PR_PREFIX}[0-9]+)$"))
    def open_link(ack: Ack) -> None:
        ack()  # Slack opens the URL itself; the ack only keeps it from showing a warning

    @app.action(SHOW_STEPS)
    def show_steps(ack: Ack, body: dict[str, Any]) -> None:
        run, user = clicked(ctx, body)
        if run is not None:
            action_ts = body["actions"][0].get("action_ts") or ctx.clock.now()
            ctx.store.add_request(
                key=f"steps:{run.run_id}:{user}:{action_ts}",
                kind="steps",
                channel=run.channel,
                user=user,
                prompt="",
                now=ctx.clock.now(),
                thread_ts=run.thread_ts,
                run_id=run.run_id,
            )
            ctx.wake()
        ack()
        tell_clicker(ctx, body, None if run else error_text(UNKNOWN_RUN))

    @app.action(RETRY)
    def retry(ack: Ack, body: dict[str, Any]) -> None:
        run, user = clicked(ctx, body)
        refusal = retry_run(ctx, run, user) if run else error_text(UNKNOWN_RUN)
        ack()
        tell_clicker(ctx, body, refusal)

    @app.action(FOLLOW_UP)
    def follow_up(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        run, user = clicked(ctx, body)
        if run is None:
            tell_clicker(ctx, body, error_text(UNKNOWN_RUN))
            return
        refusal = follow_up_refusal(ctx, run, user)
        if refusal:
            tell_clicker(ctx, body, error_text(refusal))
            return
        tell_clicker(ctx, body, open_follow_up_modal(ctx, body["trigger_id"], run))


def retry_run(ctx: HandlerContext, run: RunRecord, user: str) -> str | None:
    """Queue a new run with the failed run's prompt, options and images, in its thread (once per run)."""
    if not can_retry(run):
        return error_text(NOT_RETRYABLE)
    key = f"retry:{run.run_id}"
    if ctx.store.has_request(key):
        return error_text(ALREADY_RETRIED)
    original = ctx.store.create_request_for_run(run.run_id)
    options = original.options if original else {}
    return record_run_request(
        ctx,
        key=key,
        channel=run.channel,
        user=user,
        command=RunCommand(
            prompt=original.prompt if original else run.prompt,
            repo=run.repo,
            model=run.model,
            agent_type=options.get("agent_type"),
        ),
        thread_ts=run.thread_ts,
        message_ts=str(options.get("message_ts") or ""),
        thread_context=bool(options.get("thread_context")),
        images=original.images if original else (),
        attached_cap=options.get("attached_cap"),  # a shortcut's message goes along again
        action=RETRY_ACTION,
        run_id=run.run_id,
    )


def clicked(ctx: HandlerContext, body: dict[str, Any]) -> tuple[RunRecord | None, str]:
    """The run a card button belongs to (its value is the run id), and who clicked."""
    value = str(body["actions"][0].get("value") or "")
    run = ctx.store.get_run(int(value)) if value.isdigit() else None
    return run, body["user"]["id"]


def tell_clicker(ctx: HandlerContext, body: dict[str, Any], text: str | None) -> None:
    """Show `text` only to whoever clicked, in the card's channel and thread."""
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    if channel:
        thread = message.get("thread_ts") or message.get("ts")
        action_ts = (body.get("actions") or [{}])[0].get("action_ts")
        key = f"action:{body['user']['id']}:{action_ts}" if action_ts else None
        ctx.tell_privately(channel, body["user"]["id"], text, thread, key=key)
