"""The message shortcut "Send to Codegen": the run modal for the message's thread, the message attached.

The message itself does not pass through the form (a text input holds 3,000 characters): the create
worker reads it whole from the thread, and the form's field is for the instruction."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.slack_text import message_text
from handlers.context import HandlerContext
from handlers.modals import open_run_modal

SEND_TO_CODEGEN = "send_to_codegen"


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the shortcut listener."""

    @app.message_shortcut(SEND_TO_CODEGEN)
    def send_to_codegen(ack: Ack, shortcut: dict[str, Any]) -> None:
        ack()
        message = shortcut.get("message") or {}
        channel, user = shortcut["channel"]["id"], shortcut["user"]["id"]
        problem = open_run_modal(
            ctx,
            trigger_id=shortcut["trigger_id"],
            user=user,
            channel=channel,
            attached=len(message_text(message)),
            thread_ts=str(message.get("thread_ts") or message["ts"]),
            message_ts=str(message["ts"]),
            files=message.get("files") or [],
        )
        ctx.tell_privately(channel, user, problem, key=f"shortcut:{shortcut['trigger_id']}")
