"""`/codegen schedule add|list|pause|resume|remove`: recurring runs posted in the channel.

A cron expression is read in the time zone Slack has for whoever adds it (users.info `tz`, asked
before the ack, as the access check does); its author or an admin may pause, resume or remove it."""

from __future__ import annotations

from bot.render.messages import error_text
from bot.render.triggers import schedule_added_text, schedule_list_text
from bot.schedules import BadCron, explain, next_fire
from bot.trigger_commands import ScheduleCommand
from bot.user_names import LookupDeferred
from handlers.context import HandlerContext
from handlers.repositories import repository_problem
from storage.audit import REFUSED, SCHEDULE

TZ_WAIT_SECONDS = 1.0  # of Slack's 3 s to answer, what the time zone lookup may wait for room in its limit
NO_TIME_ZONE = (
    "I couldn't read your time zone from Slack just now, so nothing was scheduled. Try again in a minute."
)


def answer_schedule(ctx: HandlerContext, command: ScheduleCommand, *, user: str, channel: str) -> str:
    """The ephemeral reply to a schedule command."""
    now = ctx.clock.now()
    if command.action == "list":
        return schedule_list_text(channel, [(s, explain(s.cron)) for s in ctx.store.schedules(channel)])
    if command.action == "add":
        return _add(ctx, command, user=user, channel=channel)
    assert command.number is not None
    found = ctx.store.schedule(command.number)
    if found is None or found.channel != channel:
        return error_text(f"This channel has no schedule {command.number}; /codegen schedule list shows it.")
    if user != found.created_by and not ctx.is_admin(user):
        ctx.record_audit(
            user, SCHEDULE, channel=channel, outcome=REFUSED,
            detail=f"{command.action} schedule {found.id}: not its author or an admin",
        )  # fmt: skip
        return error_text(f"Only the person who added schedule {found.id}, or an admin, can change it.")
    done = {"remove": "removed", "pause": "paused", "resume": "resumed"}[command.action]
    audit = ctx.audit(user, SCHEDULE, channel=channel, detail=f"schedule {found.id} {done}")
    if command.action == "remove":
        ctx.store.remove_schedule(channel, found.id, audit=audit)
        return f"Schedule {found.id} removed."
    if command.action == "pause":
        ctx.store.pause_schedule(channel, found.id, audit=audit)
        return f"Schedule {found.id} paused; `/codegen schedule resume {found.id}` starts it again."
    following = next_fire(found.cron, found.tz, now)
    resumed = ctx.store.resume_schedule(channel, found.id, now=now, next_fire_at=following, audit=audit)
    ctx.wake()
    assert resumed is not None
    return schedule_added_text(resumed, explain(resumed.cron), "resumed")


def _add(ctx: HandlerContext, command: ScheduleCommand, *, user: str, channel: str) -> str:
    assert command.run is not None
    run = command.run
    if len(run.prompt) > ctx.max_prompt_chars:
        return error_text(f"Keep the prompt under {ctx.max_prompt_chars:,} characters.")
    problem = repository_problem(ctx, run.repo) if run.repo else None
    if problem:
        return error_text(problem)
    tz = _time_zone(ctx, user)
    if tz is None:
        return error_text(NO_TIME_ZONE)
    now = ctx.clock.now()
    try:
        first = next_fire(command.cron, tz, now)
    except BadCron as exc:
        return error_text(str(exc))
    detail = f"cron {command.cron!r} ({tz}), prompt of {len(run.prompt)} characters"
    detail += f", repo={run.repo}" if run.repo else ""
    schedule = ctx.store.add_schedule(
        channel, cron=command.cron, tz=tz, prompt=run.prompt, repo=run.repo, model=run.model, user=user,
        now=now, next_fire_at=first, audit=ctx.audit(user, SCHEDULE, channel=channel, detail=detail),
    )  # fmt: skip
    ctx.wake()
    return schedule_added_text(schedule, explain(schedule.cron))


def _time_zone(ctx: HandlerContext, user: str) -> str | None:
    """`user`'s time zone as Slack has it (an IANA name), or None when Slack did not say in time."""
    if ctx.members is None:
        return None
    try:
        record = ctx.members.member(user, max_wait=TZ_WAIT_SECONDS)
    except LookupDeferred:
        return None
    return str(record["tz"]) if record and record.get("tz") else None
