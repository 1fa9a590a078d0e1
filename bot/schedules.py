"""Schedules: cron expressions read in their author's time zone (cronsim), the `schedules` job that
fires due schedules, and the `schedule` job that starts a firing's run.

Firing moves a schedule's next fire time to the first one after *now*, so the firings missed while
the bot was down (or busy) become one run at its start, not one per miss. Each firing is a job keyed
by the schedule and the fire time (storage/schedules.py), recorded with the move: never run twice,
across restarts and replicas.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from bot.clock import Clock
from bot.command_text import RunCommand
from bot.jobs import Again, JobKind, Outcome
from bot.watch_jobs import RecordRun
from storage.job_kinds import SCHEDULE, SCHEDULES
from storage.ports import ScheduleJobStore
from storage.records import Job

log = logging.getLogger("codegen_slack.schedules")

CRON_FIELDS = 5
CHECK_AT_LEAST_EVERY_SECONDS = 3600.0  # the `schedules` job also wakes when a schedule is added or resumed
CRON_HELP = (
    "A cron expression has five fields: minute, hour, day of month, month and day of week, like "
    '"0 9 * * 1-5" (9:00 on weekdays) or "*/30 * * * *" (every half hour).'
)


class BadCron(ValueError):
    """A cron expression or time zone that cannot be used; the message says why, for the person."""


def next_fire(cron: str, tz: str, after: float) -> float:
    """The first time after `after` (epoch seconds) that `cron` matches in time zone `tz` (IANA name),
    in epoch seconds; raises BadCron for an expression that is not five valid fields (an @-alias
    like @daily included), that never matches again, or an unknown zone."""
    if cron.strip().startswith("@"):  # cronsim reads no @-aliases (@daily, @hourly, @reboot, …)
        raise BadCron(
            f"`{cron}`: use five fields like 0 9 * * 1-5 (aliases like @daily are not supported). {CRON_HELP}"
        )
    if len(cron.split()) != CRON_FIELDS:
        raise BadCron(f"`{cron}` has {len(cron.split())} fields, not {CRON_FIELDS}. {CRON_HELP}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadCron(f"I don't know the time zone {tz!r} that Slack gave for you.") from None
    try:
        return next(CronSim(cron, datetime.fromtimestamp(after, zone))).timestamp()
    except CronSimError as exc:
        raise BadCron(f"`{cron}` is not a cron expression I can read ({exc}). {CRON_HELP}") from None
    except StopIteration:
        raise BadCron(f"`{cron}` never matches a future time. {CRON_HELP}") from None


def explain(cron: str) -> str:
    """`cron` in words ("At 09:00 on Monday through Friday"), or the expression itself."""
    try:
        return CronSim(cron, datetime.now()).explain()
    except Exception:  # explain() is best effort for unusual expressions; the expression says it all
        return cron


def schedule_kinds(store: ScheduleJobStore, clock: Clock, record_run: RecordRun) -> list[JobKind]:
    """The `schedules` job kind (fires due schedules, recurring until the next one is due) and the
    `schedule` job kind (one firing: its run, posted in the schedule's channel)."""

    def check(job: Job) -> Outcome | None:
        now = clock.now()
        for schedule in store.due_schedules(now):
            try:
                following = next_fire(schedule.cron, schedule.tz, now)
            except BadCron as exc:  # checked when it was added; a time zone database may have changed
                log.error("schedule %s cannot fire: %s; pausing it", schedule.id, exc)
                store.pause_schedule(schedule.channel, schedule.id)
                continue
            if store.fire_schedule(schedule, now=now, next_fire_at=following):
                log.info("schedule %s fired for %s", schedule.id, schedule.next_fire_at)
        due = store.next_schedule_due()
        if due is None:
            return None
        return Again(min(CHECK_AT_LEAST_EVERY_SECONDS, max(1.0, due - clock.now())))

    def fire(job: Job) -> Outcome | None:
        schedule = store.schedule(int(job.payload["schedule_id"]))
        if schedule is None or schedule.paused:  # removed or paused since it came due
            return None
        command = RunCommand(prompt=schedule.prompt, repo=schedule.repo, model=schedule.model)
        refusal = record_run(
            key=job.key, channel=schedule.channel, user=schedule.created_by, command=command, thread_ts="",
            hourly_cap=0,  # a schedule fires at most once a minute by its own cron
        )  # fmt: skip
        if refusal:
            log.warning("schedule %s: no run (%s)", schedule.id, refusal)
        return None

    return [JobKind(SCHEDULES, check, needs_slack=False), JobKind(SCHEDULE, fire)]
