"""Effects of a request that must happen once even when the process dies in the middle of one.

Each is noted durably in the request (a "step") just before it is done. A step found already noted
means an earlier attempt may have done it, so the bot first looks for the effect: a post by its
message metadata in Slack, a run by its idempotency key in Codegen (bot/resumes.py looks for a
follow-up in the run's logs the same way).

What this cannot close, because the remote API has no idempotency key to lean on:
- A run is looked for among the token's API runs made since the request (less 5 minutes for clock
  skew), at most 1,000 deep; if more were made between the lost answer and the look, the request
  makes a second run.
- A follow-up is looked for as a USER_MESSAGE log entry holding its text. If Codegen logs it late or
  not at all, it is sent again; if someone else sent the very same text to the run meanwhile, it
  counts as delivered.
- A top-level post (a slash command's status message) is looked for in the channel's history from
  5 minutes before the request; a Slack clock that far off would miss it.
- Ephemeral messages cannot be read back, so refusals and errors shown that way are sent at least
  once: a crash between sending one and recording it repeats it.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.codegen import AgentRun, CodegenClient
from bot.render.messages import SlackMessage
from bot.slack_out import SlackOut
from storage.database import CREATE_STEP
from storage.ports import RequestSteps
from storage.records import Request

log = logging.getLogger("codegen_slack.once")

STATUS_MESSAGE_STEP = "status_message"


def post_for_request(
    store: RequestSteps,
    slack: SlackOut,
    request: Request,
    step: str,
    message: SlackMessage,
    *,
    thread_ts: str | None,
    match: dict[str, Any] | None = None,
) -> str:
    """Post `message` for `request` once; returns its ts. An earlier post is recognised by the
    fields `match` of its metadata payload (by the whole payload when `match` is None)."""
    retrying = store.note_step(request.id, step)
    return slack.post_once(
        request.channel,
        message,
        thread_ts=thread_ts,
        retrying=retrying,
        match=match if match is not None else (message.metadata or {}).get("event_payload", {}),
        since=request.created_at,
    )


def request_notice(request: Request, kind: str, text: str, event_type: str) -> SlackMessage:
    """A notice about a request (held, delayed, delivered…), with metadata that lets
    `post_for_request` find it again after a crash."""
    payload = {"request_id": request.id, "notice": kind}
    return SlackMessage(text=text, blocks=[], metadata={"event_type": event_type, "event_payload": payload})


def create_run_once(
    store: RequestSteps, codegen: CodegenClient, request: Request, prompt: str, **create: Any
) -> AgentRun:
    """Start the request's run, keyed by the request's key; after an attempt that may have reached
    Codegen, the run that attempt made is looked up and returned instead of making a second one."""
    if store.note_step(request.id, CREATE_STEP, while_pending=True):
        found = codegen.find_run_by_key(request.key, since=request.created_at)
        if found is not None:
            log.info("request %s had already become run %s (an earlier attempt)", request.id, found.id)
            return found
    return codegen.create_run(prompt, idempotency_key=request.key, **create)
