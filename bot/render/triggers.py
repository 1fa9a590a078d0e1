"""Replies about watch rules and schedules, as mrkdwn; pure functions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.render.limits import MESSAGE_TEXT_MAX, truncate
from bot.render.mrkdwn import escape_mrkdwn, slack_link
from storage.schedules import Schedule
from storage.watches import WatchRule

_PROMPT_CHARS = 80


def watch_added_text(rule: WatchRule, runs_per_hour: int) -> str:
    """The reply to `/codegen watch add`."""
    return (
        f"Watch rule {rule.id} added: {_rule_line(rule)}\nA matching message starts a Codegen run in its"
        f" thread (at most {runs_per_hour} an hour for this rule; the same alert again within an hour is"
        " pointed at the run already on it). I must be in this channel to see its messages."
    )


def watch_list_text(channel: str, rules: list[WatchRule], runs_per_hour: int) -> str:
    """The reply to `/codegen watch list`."""
    if not rules:
        return f"No watch rules in <#{channel}>. Admins add one with `/codegen watch add &lt;pattern&gt;`."
    lines = [f"*Watch rules in <#{channel}>* (each starts at most {runs_per_hour} runs an hour)"]
    lines += [f"• *{rule.id}* {_rule_line(rule)}" for rule in rules]
    lines.append("Remove one with `/codegen watch remove &lt;n&gt;`.")
    return truncate("\n".join(lines), MESSAGE_TEXT_MAX)


def watch_link_text(first_permalink: str) -> str:
    """Posted in the thread of an alert that repeats one a run is already working on."""
    return (
        f":repeat: The same alert came {slack_link(first_permalink, 'earlier')} and Codegen is already"
        " working on it there, so no new run was started."
    )


def watch_capped_text(rule_id: int, runs_per_hour: int) -> str:
    """Posted in the thread of the first message past a rule's hourly cap."""
    return (
        f":warning: Watch rule {rule_id} has already started {runs_per_hour} runs this hour, its limit, so no"
        " run was started for this message (nor will one be for others this hour)."
    )


def schedule_added_text(schedule: Schedule, explained: str, done: str = "added") -> str:
    """The reply to `/codegen schedule add` (or `resume`, with `done` "resumed")."""
    return f"Schedule {schedule.id} {done}: {_schedule_line(schedule, explained)}"


def schedule_list_text(channel: str, schedules: list[tuple[Schedule, str]]) -> str:
    """The reply to `/codegen schedule list`: each schedule with its cron explained."""
    if not schedules:
        return (
            f"No schedules in <#{channel}>. Add one with"
            ' `/codegen schedule add "0 9 * * 1-5" &lt;prompt&gt;`.'
        )
    lines = [f"*Schedules in <#{channel}>*"]
    lines += [f"• *{s.id}* {_schedule_line(s, explained)}" for s, explained in schedules]
    lines.append("`/codegen schedule pause|resume|remove &lt;n&gt;` changes one.")
    return truncate("\n".join(lines), MESSAGE_TEXT_MAX)


def slack_date(epoch: float, tz: str) -> str:
    """A time Slack shows in each reader's own time zone; the fallback text gives it in `tz`."""
    local = datetime.fromtimestamp(epoch, ZoneInfo(tz))
    fallback = local.strftime("%a %b %d %Y, %H:%M ") + (local.tzname() or tz)
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _rule_line(rule: WatchRule) -> str:
    parts = [f"`{escape_mrkdwn(rule.pattern)}`"]
    if rule.source:
        parts.append(f"from {escape_mrkdwn(rule.source)}")
    if rule.repo:
        parts.append(f"on `{escape_mrkdwn(rule.repo)}`")
    if rule.template:
        parts.append(f"prompt “{escape_mrkdwn(truncate(rule.template, _PROMPT_CHARS))}”")
    return " · ".join(parts) + f" · added by <@{rule.created_by}>"


def _schedule_line(schedule: Schedule, explained: str) -> str:
    when = "paused" if schedule.paused else f"next {slack_date(schedule.next_fire_at, schedule.tz)}"
    parts = [
        f"`{schedule.cron}` ({escape_mrkdwn(explained)}, {schedule.tz})",
        when,
        f"“{escape_mrkdwn(truncate(schedule.prompt, _PROMPT_CHARS))}”",
    ]
    if schedule.repo:
        parts.append(f"on `{escape_mrkdwn(schedule.repo)}`")
    return " · ".join(parts) + f" · by <@{schedule.created_by}>"
