"""`/codegen`: start a run, or answer help, status and list ephemerally."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.command_text import (
    HelpCommand,
    ListCommand,
    RunCommand,
    StatusCommand,
    UsageError,
    parse_command,
)
from bot.render.messages import error_text, help_text, run_list_text, run_status_text
from handlers.context import HandlerContext
from handlers.intake import record_run_request

LIST_LENGTH = 10


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the slash command listener."""

    @app.command("/codegen")
    def codegen_command(ack: Ack, command: dict[str, Any]) -> None:
        reply = answer(ctx, command)
        if reply:
            ack(text=reply, response_type="ephemeral")
        else:
            ack()


def answer(ctx: HandlerContext, command: dict[str, Any]) -> str | None:
    """What to acknowledge the command with: an ephemeral text, or None once a run is recorded."""
    parsed = parse_command(command.get("text") or "")
    user, channel = command["user_id"], command["channel_id"]
    now = ctx.clock.now()
    if isinstance(parsed, UsageError):
        return parsed.message
    if isinstance(parsed, HelpCommand):
        return help_text()
    if isinstance(parsed, ListCommand):
        return run_list_text(ctx.store.runs_for_user(user, LIST_LENGTH), now)
    if isinstance(parsed, StatusCommand):
        if parsed.run_id is not None:
            run = ctx.store.get_run(parsed.run_id)
        else:
            recent = ctx.store.runs_for_user(user, 1, channel=channel)
            run = recent[0] if recent else None
        if run is None:
            return error_text("I don't know that run. `/codegen list` shows your recent runs.")
        return run_status_text(run, now)
    assert isinstance(parsed, RunCommand)
    refusal = record_run_request(
        ctx,
        key=f"command:{command.get('trigger_id') or now}",
        channel=channel,
        user=user,
        command=parsed,
        thread_ts="",
    )
    return refusal
