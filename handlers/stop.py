"""Stop a run: from the card's button, `/codegen stop [run id]`, `stop` said to the bot in the run's
thread, or Slack's own stop button on the agent session (`agent_session_stopped`).

Codegen's API has no call that cancels a run, so Stop records one follow-up (a `resume` request with
bot.render.controls.STOP_PROMPT, keyed `stop:<run id>` so it is sent once, however often and from
wherever people press Stop; once it ended and a follow-up set the run working again, the next Stop
is a new request, `stop:<run id>:<n>`). The resume job delivers it as soon as Codegen takes it, or drops it
unsent when the run finished first (bot/resumes.py); the card says what was done. Only the run's
requester or one of the bot's admins may stop it.
"""

from __future__ import annotations

from bot.render.controls import ONLY_REQUESTER, STOP_PROMPT, already_finished_text, stop_text
from bot.render.messages import error_text
from handlers.context import HandlerContext
from storage.agent_controls import StopRecord
from storage.audit import REFUSED, STOP
from storage.records import RunRecord

UNKNOWN_RUN = "I don't know that run. `/codegen list` shows your recent runs."
NO_RUN_HERE = "There is no run of yours here to stop. Give its id: `/codegen stop 123`."
ALREADY = "Run #{run_id} was already asked to stop; nothing more was sent. "


def request_stop(ctx: HandlerContext, run: RunRecord, user: str, source: str) -> str:
    """Ask the run to stop (once); returns what to tell `user` privately. `source` is where Stop was
    pressed: `button`, `command`, `thread` or `slack`."""
    if not ctx.may_act_on_run(user, run.requester):
        ctx.record_audit(
            user, STOP, channel=run.channel, run_id=run.run_id, outcome=REFUSED,
            detail=f"from {source}: not the requester or an admin",
        )  # fmt: skip
        return f":warning: {ONLY_REQUESTER.format(requester=f'<@{run.requester}>', run_id=run.run_id)}"
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


def stop_by_command(
    ctx: HandlerContext, run_id: int | None, *, user: str, channel: str, thread_ts: str | None
) -> str:
    """`/codegen stop [run id]`: the run named, else the run of the thread the command came from, else
    the user's latest working run in the channel."""
    run = None
    if run_id is not None:
        run = ctx.store.get_run(run_id)
        if run is None:
            return error_text(UNKNOWN_RUN)
    elif thread_ts:
        run = ctx.store.run_for_thread(channel, thread_ts)
    if run is None:
        recent = [r for r in ctx.store.runs_for_user(user, 10, channel=channel) if not r.finished]
        if not recent:
            return error_text(NO_RUN_HERE)
        run = recent[0]
    return request_stop(ctx, run, user, "command")

