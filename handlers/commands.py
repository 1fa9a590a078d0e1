"""`/codegen`: start a run (the modal when no text is given), or answer help, status, list, repos,
config, watch and schedule ephemerally."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.command_text import (
    Command,
    ConfigCommand,
    HelpCommand,
    ListCommand,
    ModalCommand,
    PRCommand,
    ReposCommand,
    RunCommand,
    SetupCommand,
    StatusCommand,
    StopCommand,
    UsageError,
    parse_slash_command,
)
from bot.render.command_replies import help_text, run_list_text, run_status_text
from bot.render.messages import SlackMessage, error_text
from bot.trigger_commands import ScheduleCommand, TriggerCommand, WatchCommand, parse_trigger_text
from handlers.config import answer_config, answer_repos
from handlers.context import HandlerContext
from handlers.intake import record_run_request
from handlers.modals import open_run_modal
from handlers.pr_actions import pr_reply
from handlers.schedules import answer_schedule
from handlers.setup import record_setup
from handlers.stop import stop_by_command
from handlers.watch import answer_watch
from storage.store import StorageError

LIST_LENGTH = 10


STORAGE_FAILED = (
    "The bot couldn't save your request (its database is full or can't be written), so nothing "
    "was started. Please tell whoever runs the bot."
)


log = logging.getLogger("codegen_slack.handlers")


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the slash command listener."""

    @app.command("/codegen")
    def codegen_command(ack: Ack, command: dict[str, Any]) -> None:
        text = command.get("text") or ""
        parsed = parse_trigger_text(text) or parse_slash_command(text)
        if isinstance(parsed, ModalCommand):  # views.open needs the trigger_id within 3 s: before the ack
            reply = open_run_modal(
                ctx,
                trigger_id=command["trigger_id"],
                user=command["user_id"],
                channel=command["channel_id"],
            )
        else:
            try:
                reply = answer(ctx, command, parsed)
            except StorageError as exc:
                log.error("could not record /codegen from %s: %s", command.get("user_id"), exc)
                reply = error_text(STORAGE_FAILED)
        if isinstance(reply, SlackMessage):
            ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
        elif reply:
            ack(text=reply, response_type="ephemeral")
        else:
            ack()


def answer(
    ctx: HandlerContext, command: dict[str, Any], parsed: Command | TriggerCommand
) -> str | SlackMessage | None:
    """What to acknowledge the command with: an ephemeral text or message, or None once a run is
    recorded."""
    user, channel = command["user_id"], command["channel_id"]
    now = ctx.clock.now()
    if isinstance(parsed, UsageError):
        return parsed.message
    if isinstance(parsed, WatchCommand):
        return answer_watch(ctx, parsed, user=user, channel=channel)
    if isinstance(parsed, ScheduleCommand):
        return answer_schedule(ctx, parsed, user=user, channel=channel)
    if isinstance(parsed, ConfigCommand):
        return answer_config(ctx, parsed, user=user, channel=channel)
    if isinstance(parsed, ReposCommand):
        return answer_repos(ctx, command)
    if isinstance(parsed, HelpCommand):
        return help_text(ctx.trigger_emoji)
    if isinstance(parsed, StopCommand):
        thread_ts = command.get("thread_ts")  # Slack does not document it for commands; used if present
        return stop_by_command(ctx, parsed.run_id, user=user, channel=channel, thread_ts=thread_ts)
    if isinstance(parsed, SetupCommand):
        key = f"command:{command.get('trigger_id') or now}"
        return record_setup(ctx, parsed, key=key, user=user, channel=channel)
    if isinstance(parsed, PRCommand):
        return pr_reply(ctx, parsed.run_id, user=user, channel=channel)
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
