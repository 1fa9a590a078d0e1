"""`link_shared`: a Codegen run link was posted (or typed) where the bot is; an `unfurl` job previews it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.render.unfurls import run_id_of
from handlers.context import HandlerContext
from storage.job_kinds import PRIORITY, UNFURL_JOB


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the link listener."""

    @app.event("link_shared")
    def on_link_shared(event: dict[str, Any]) -> None:
        record_unfurl(ctx, event)


def record_unfurl(ctx: HandlerContext, event: dict[str, Any]) -> None:
    """Record the preview of the event's run links, once per event: a redelivery (same `event_ts`)
    adds nothing, while a Work Object's refresh (Slack sends `link_shared` again, with a new
    `event_ts`) previews the run as it is now."""
    links = [str(link.get("url") or "") for link in event.get("links") or []]
    runs = [url for url in links if run_id_of(url, ctx.unfurl_domain) is not None]
    channel, ts = event.get("channel"), event.get("message_ts")
    if not runs or not channel or not ts:
        return
    payload: dict[str, Any] = {"channel": channel, "ts": ts, "links": runs}
    key = f"{UNFURL_JOB}:{channel}:{ts}:{event.get('event_ts') or ts}"
    ctx.store.add_job(UNFURL_JOB, key, now=ctx.clock.now(), priority=PRIORITY[UNFURL_JOB], payload=payload)
    ctx.wake()
