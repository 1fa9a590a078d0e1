"""The card's Stop and Mute / Unmute buttons, a queued request's Cancel button, and Slack's own stop
button on a run's agent session (the `agent_session_stopped` event)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.render.controls import CANCEL_REQUEST, MUTE, STOP, UNMUTE
from bot.render.messages import error_text
from handlers.actions import UNKNOWN_RUN, clicked, tell_clicker
from handlers.context import HandlerContext
from handlers.follow_up_filter import Verdict, change_muting
from handlers.stop import cancel_request, request_stop

NO_RUN_IN_THREAD = "This thread has no Codegen run to stop."
UNKNOWN_REQUEST = "I don't know that request any more."


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the Stop and muting listeners."""

    @app.action(STOP)
    def stop(ack: Ack, body: dict[str, Any]) -> None:
        run, user = clicked(ctx, body)
        said = request_stop(ctx, run, user, "button") if run else error_text(UNKNOWN_RUN)
        ack()
        tell_clicker(ctx, body, said)

    @app.action(CANCEL_REQUEST)
    def cancel(ack: Ack, body: dict[str, Any]) -> None:
        value = str(body["actions"][0].get("value") or "")
        request = ctx.store.get_request(int(value)) if value.isdigit() else None
        user = body["user"]["id"]
        if request is not None and request.kind == "create":
            said = cancel_request(ctx, request, user, "button")
        else:
            said = error_text(UNKNOWN_REQUEST)
        ack()
        tell_clicker(ctx, body, said)

    @app.action(MUTE)
    @app.action(UNMUTE)
    def mute(ack: Ack, body: dict[str, Any]) -> None:
        run, user = clicked(ctx, body)
        if run is None:
            said = error_text(UNKNOWN_RUN)
        else:
            verdict = Verdict.MUTE if body["actions"][0]["action_id"] == MUTE else Verdict.UNMUTE
            said = change_muting(
                ctx, verdict, run_id=run.run_id, channel=run.channel, thread_ts=run.thread_ts, user=user
            )
        ack()
        tell_clicker(ctx, body, said)

    @app.event("agent_session_stopped")
    def session_stopped(event: dict[str, Any]) -> None:
        channel, thread_ts, user = event.get("channel"), event.get("thread_ts"), event.get("user")
        if not (channel and thread_ts and user):
            return
        run = ctx.store.run_for_thread(channel, thread_ts)
        said = request_stop(ctx, run, user, "slack") if run else error_text(NO_RUN_IN_THREAD)
        key = f"session_stopped:{channel}:{thread_ts}:{event.get('event_ts')}"
        ctx.tell_privately(channel, user, said, thread_ts, key=key)
