"""Parse `/codegen watch …` and `/codegen schedule …` (after bot.command_text decoded the text).

- `watch add <pattern> [from=<app or bot>] [repo=owner/name] [prompt=<template>]`: the pattern is
  one word, or in double quotes when it has spaces; `prompt=` takes the rest of the line.
- `watch list`, `watch remove <n>`
- `schedule add "<cron>" <prompt> [repo=owner/name] [model=name]`: five cron fields in double quotes.
- `schedule list`, `schedule pause <n>`, `schedule resume <n>`, `schedule remove <n>`

Numbers are the ids `list` shows (`3` or `#3`). Anything else is a UsageError saying the right form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.command_text import REPO_RE, RunCommand, UsageError, parse_run
from bot.slack_text import decode

WATCH_USAGE = (
    "Usage: /codegen watch add <pattern> [from=<app or bot>] [repo=owner/name] [prompt=<template>] "
    "(a pattern with spaces goes in double quotes), /codegen watch list, /codegen watch remove <n>."
)
SCHEDULE_USAGE = (
    'Usage: /codegen schedule add "<cron>" <prompt> [repo=owner/name], e.g. /codegen schedule add '
    '"0 9 * * 1-5" triage new issues; /codegen schedule list, pause <n>, resume <n>, remove <n>.'
)
WATCH_ACTIONS = ("add", "list", "remove")
SCHEDULE_ACTIONS = ("add", "list", "pause", "resume", "remove")
_QUOTED_RE = re.compile(r'\s*["“”]([^"“”]*)["“”]')
_NUMBER_RE = re.compile(r"#?([0-9]{1,9})")
_OPTION_RE = re.compile(r"(from|repo)=(\S*)", re.IGNORECASE)


@dataclass(frozen=True)
class WatchCommand:
    """`action` one of WATCH_ACTIONS; `number` for remove; the rest for add (None: not given)."""

    action: str
    number: int | None = None
    pattern: str = ""
    source: str | None = None
    repo: str | None = None
    template: str | None = None


@dataclass(frozen=True)
class ScheduleCommand:
    """`action` one of SCHEDULE_ACTIONS; `number` for pause/resume/remove; `cron` and `run` for add."""

    action: str
    number: int | None = None
    cron: str = ""
    run: RunCommand | None = None


TriggerCommand = WatchCommand | ScheduleCommand


def parse_trigger_text(text: str) -> TriggerCommand | UsageError | None:
    """A watch or schedule command in Slack-encoded `text`; None when it is none (a prompt may start
    with the word "watch" or "schedule": only these words followed by an action are commands)."""
    decoded = decode(text).strip()
    return parse_trigger_command(decoded) if _is_trigger_command(decoded.split()) else None


def _is_trigger_command(words: list[str]) -> bool:
    if len(words) < 2:
        return False
    keyword, action = words[0].lower(), words[1].lower()
    return (keyword == "watch" and action in WATCH_ACTIONS) or (
        keyword == "schedule" and action in SCHEDULE_ACTIONS
    )


def parse_trigger_command(text: str) -> WatchCommand | ScheduleCommand | UsageError:
    """Parse decoded text that starts with `watch` or `schedule` and one of their actions."""
    keyword, action, rest = [*text.strip().split(None, 2), "", ""][:3]
    keyword, action = keyword.lower(), action.lower()
    usage = WATCH_USAGE if keyword == "watch" else SCHEDULE_USAGE
    if action == "list":
        return WatchCommand("list") if keyword == "watch" else ScheduleCommand("list")
    if action != "add":
        number = _NUMBER_RE.fullmatch(rest.strip())
        if number is None:
            return UsageError(f"Give the number that `/codegen {keyword} list` shows. {usage}")
        n = int(number.group(1))
        return WatchCommand(action, n) if keyword == "watch" else ScheduleCommand(action, n)
    return _parse_watch_add(rest) if keyword == "watch" else _parse_schedule_add(rest)


def _parse_watch_add(rest: str) -> WatchCommand | UsageError:
    rest, _, template = rest.partition("prompt=")
    quoted = _QUOTED_RE.match(rest)
    if quoted:
        pattern, words = quoted.group(1), rest[quoted.end() :].split()
    elif rest.lstrip().startswith(('"', "“")):
        return UsageError(f"The pattern's closing quote is missing. {WATCH_USAGE}")
    else:
        pattern, *words = rest.split() or [""]
    if not pattern.strip():
        return UsageError(f"Say what to watch for. {WATCH_USAGE}")
    options: dict[str, str] = {}
    for word in words:
        option = _OPTION_RE.fullmatch(word)
        if option is None:
            return UsageError(f"I don't know what {word!r} means here. {WATCH_USAGE}")
        key, value = option.group(1).lower(), option.group(2)
        if not value or key in options:
            return UsageError(f"Give {key}= once, with a value. {WATCH_USAGE}")
        options[key] = value
    repo = options.get("repo")
    if repo is not None and not REPO_RE.fullmatch(repo):
        return UsageError(f"repo={repo} doesn't look like owner/name.")
    return WatchCommand(
        "add", pattern=pattern, source=options.get("from"), repo=repo, template=template.strip() or None
    )


def _parse_schedule_add(rest: str) -> ScheduleCommand | UsageError:
    quoted = _QUOTED_RE.match(rest)
    if quoted is None:
        return UsageError(f"Put the cron expression in double quotes. {SCHEDULE_USAGE}")
    run = parse_run(rest[quoted.end() :].strip())
    if isinstance(run, UsageError):
        return UsageError(f"{run.message.split(' Usage:')[0]} {SCHEDULE_USAGE}")
    return ScheduleCommand("add", cron=" ".join(quoted.group(1).split()), run=run)
