"""Stop a run: from the card's button, `/codegen stop [run id]`, `stop` said to the bot in the run's
thread, or Slack's own stop button on the agent session (`agent_session_stopped`).

Codegen's API has no call that cancels a run, so Stop records one follow-up (a `resume` request with
bot.render.controls.STOP_PROMPT, keyed `stop:<run id>` so it is sent once, however often and from
wherever people press Stop; once it ended and a follow-up set the run working again, the next Stop
is a new request, `stop:<run id>:<n>`). The resume job delivers it as soon as Codegen takes it, or drops it
unsent when the run finished first (bot/resumes.py); the card says what was done. Only the run's
requester or one of the bot's admins may stop it.

A request still queued for Codegen's create limit has no run yet: its message's ✖️ Cancel button, or
`/codegen stop` in its thread, withdraws it, and nothing is sent to Codegen (storage.requests'
`cancel_create`), unless the create job is already asking Codegen for the run.
"""

from __future__ import annotations

from typing import Any

from bot.render.controls import (
    CANCEL_DONE,
    CANCEL_STARTED,
    CANCEL_TOO_LATE,
    ONLY_REQUESTER,
    ONLY_REQUESTER_CANCEL,
    STOP_PROMPT,
    already_finished_text,
    stop_text,
)
from bot.render.messages import error_text
from handlers.context import HandlerContext
from storage.agent_controls import StopRecord
from storage.audit import REFUSED, STOP
from storage.records import Request, RunRecord
from storage.requests import CANCELLED

UNKNOWN_RUN = "I don't know that run. `/codegen list` shows your recent runs."
NO_RUN_HERE = "There is no run of yours here to stop. Give its id: `/codegen stop 123`."
ALREADY = "Run #{run_id} was already asked to stop; nothing more was sent. "
ALREADY_CANCELLED = "It was already cancelled; nothing was sent to Codegen."


def request_stop(ctx: HandlerContext, run: RunRecord, user: str, source: str) -> str:
    """Ask the run to stop (once); returns what to tell `user` privately. `source` is where Stop was
    pressed: `button`, `command`, `thread` or `slack`."""
    refusal = ONLY_REQUESTER.format(requester=f"<@{run.requester}>", run_id=run.run_id)
    where = {"channel": run.channel, "run_id": run.run_id}
    refused = _refused(ctx, user, run.requester, refusal, f"from {source}", **where)
    if refused:
        return refused
    if run.finished:
        ctx.store.show_session(run.run_id, ctx.clock.now())  # after Slack's stop: closed, not working
        ctx.wake()
        return already_finished_text(run)
    now = ctx.clock.now()
    recorded = ctx.store.add_request(
        key=ctx.store.next_stop_key(run.run_id),
        kind="resume",
        channel=run.channel,
        user=user,
        prompt=STOP_PROMPT,
        now=now,
        thread_ts=run.thread_ts,
        run_id=run.run_id,
        options={"stop": source},
        audit=ctx.audit(user, STOP, channel=run.channel, run_id=run.run_id, detail=f"from {source}"),
    )
    ctx.store.show_stop(run.run_id, now)
    ctx.wake()
    stop = ctx.store.run_controls(run.run_id, run.channel, run.thread_ts).stop
    if recorded is None and stop is not None:
        return ALREADY.format(run_id=run.run_id) + stop_text(run, stop)
    return stop_text(run, stop or StopRecord(user, source, now, "waiting"))


def cancel_request(ctx: HandlerContext, request: Request, user: str, source: str) -> str:
    """Withdraw a create request before its run is made; returns what to tell `user` privately.
    `source`: `button`, `command` or `thread`."""
    refusal = ONLY_REQUESTER_CANCEL.format(requester=f"<@{request.user}>")
    where = {"channel": request.channel, "request_id": request.id}
    refused = _refused(ctx, user, request.user, refusal, f"cancel from {source}", **where)
    if refused:
        return refused
    audit = ctx.audit(user, STOP, channel=request.channel, detail=f"cancelled before it started ({source})")
    if ctx.store.cancel_create(request.id, user, now=ctx.clock.now(), audit=audit) is None:
        now = ctx.store.get_request(request.id)
        if now is not None and now.state == "failed" and now.error == CANCELLED:
            return ALREADY_CANCELLED
        return CANCEL_STARTED if now is not None and now.state == "done" else CANCEL_TOO_LATE
    ctx.wake()
    return CANCEL_DONE


def _refused(
    ctx: HandlerContext, user: str, requester: str, refusal: str, tried: str, **where: Any
) -> str | None:
    """`refusal` as a warning, audited, unless `user` is `requester` or an admin (then None)."""
    if ctx.may_act_on_run(user, requester):
        return None
    ctx.record_audit(user, STOP, outcome=REFUSED, detail=f"{tried}: not the requester or an admin", **where)
    return f":warning: {refusal}"


def stop_in_thread(ctx: HandlerContext, channel: str, thread_ts: str, user: str, source: str) -> str | None:
    """Stop the thread's working run, else cancel the request still making one (a first run, or a
    retry of a finished one), else say the run finished; what to tell `user` privately (None: the
    thread has neither run nor request)."""
    run = ctx.store.run_for_thread(channel, thread_ts)
    if run is not None and not run.finished:
        return request_stop(ctx, run, user, source)
    waiting = ctx.store.create_for_thread(channel, thread_ts)  # a retry queued under a finished run, too
    if waiting is not None:
        return cancel_request(ctx, waiting, user, source)
    return request_stop(ctx, run, user, source) if run is not None else None


def stop_by_command(
    ctx: HandlerContext, run_id: int | None, *, user: str, channel: str, thread_ts: str | None
) -> str:
    """`/codegen stop [run id]`: the run named, else the run of the thread the command came from, else
    the user's latest working run in the channel, else their latest request there still waiting for
    its run (cancelled)."""
    run = None
    if run_id is not None:
        run = ctx.store.get_run(run_id)
        if run is None:
            return error_text(UNKNOWN_RUN)
    elif thread_ts:
        said = stop_in_thread(ctx, channel, thread_ts, user, "command")
        if said is not None:
            return said
    if run is None:
        recent = [r for r in ctx.store.runs_for_user(user, 10, channel=channel) if not r.finished]
        if not recent:
            waiting = ctx.store.waiting_create_of(user, channel)
            return cancel_request(ctx, waiting, user, "command") if waiting else error_text(NO_RUN_HERE)
        run = recent[0]
    return request_stop(ctx, run, user, "command")

