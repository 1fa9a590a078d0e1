"""Who may use the bot where: a global Bolt middleware that refuses, politely and privately."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.render.messages import error_text
from handlers.context import HandlerContext

NOT_ALLOWED_USER = "You're not on the list of people who may use the Codegen bot here. Ask a workspace admin."
NOT_ALLOWED_CHANNEL = "The Codegen bot isn't enabled in this channel. Ask a workspace admin, or DM the bot."


def refusal(
    context: BoltContext, allowed_users: frozenset[str], allowed_channels: frozenset[str]
) -> str | None:
    """Why this request is refused, or None when the user may use the bot in this channel."""
    if allowed_users and context.user_id not in allowed_users:
        return NOT_ALLOWED_USER
    channel = context.channel_id or ""
    if allowed_channels and channel and not channel.startswith("D") and channel not in allowed_channels:
        return NOT_ALLOWED_CHANNEL
    return None


def register(
    app: App, ctx: HandlerContext, allowed_users: frozenset[str], allowed_channels: frozenset[str]
) -> None:
    """Refuse requests from users or channels outside the allow lists (when lists are set)."""
    if not allowed_users and not allowed_channels:
        return

    @app.middleware
    def check_access(
        body: dict[str, Any], context: BoltContext, next: Callable[[], None]
    ) -> BoltResponse | None:
        reason = refusal(context, allowed_users, allowed_channels)
        if reason is None:
            next()
            return None
        text = error_text(reason)
        if body.get("command"):
            return BoltResponse(
                status=200,
                body=json.dumps({"response_type": "ephemeral", "text": text}),
                headers={"content-type": ["application/json"]},
            )
        event = body.get("event") or {}
        if _addressed_to_bot(event) and context.user_id and context.channel_id:
            key = f"refused:{context.channel_id}:{event.get('ts')}"
            ctx.tell_privately(context.channel_id, context.user_id, text, event.get("thread_ts"), key=key)
        return BoltResponse(status=200, body="")


def _addressed_to_bot(event: dict[str, Any]) -> bool:
    """A mention or a DM: the person expects an answer (other channel chatter is ignored silently)."""
    if event.get("bot_id") or event.get("subtype"):
        return False
    return event.get("type") == "app_mention" or event.get("channel_type") == "im"
