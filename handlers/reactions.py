"""Reacting to a message with the trigger emoji (CODEGEN_SLACK_TRIGGER_EMOJI) sends it to Codegen:
recorded here as a `reaction` job keyed by the message, carried out by bot/reaction_trigger.py."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from handlers.context import HandlerContext
from storage.job_kinds import PRIORITY, REACTION


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the reaction listener."""

    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any], context: BoltContext) -> None:
        item = event.get("item") or {}
        if not is_trigger(ctx, event) or event.get("user") == context.bot_user_id:
            return
        channel, ts = str(item["channel"]), str(item["ts"])
        payload = {"channel": channel, "ts": ts, "user": event["user"]}
        key = f"{REACTION}:{channel}:{ts}"  # several people reacting make one run
        now = ctx.clock.now()
        if ctx.store.add_job(REACTION, key, now=now, priority=PRIORITY[REACTION], payload=payload):
            ctx.wake()


def is_trigger(ctx: HandlerContext, event: dict[str, Any]) -> bool:
    """Whether a reaction_added event is someone reacting to a message with the trigger emoji (any
    skin tone)."""
    item = event.get("item") or {}
    reaction = str(event.get("reaction") or "").split("::")[0]
    return (
        bool(ctx.trigger_emoji)
        and reaction == ctx.trigger_emoji
        and item.get("type") == "message"
        and bool(item.get("channel") and item.get("ts") and event.get("user"))
    )
