"""Parse what users type after `/codegen` (or to the bot in a mention or DM) into a command.

Grammar, after Slack's markup is undone by bot.slack_text.decode (entities unescaped, links as
`label (url)`, channels `#name`, user mentions like `<@U123>` kept for the worker to name):

- `help` alone (any case) -> HelpCommand; `list` alone -> ListCommand
- `status`, `status 123` or `status #123` -> StatusCommand; `status <other word>` -> UsageError
- a run id is digits (optionally after `#`); one beyond 64 bits (Codegen's ids are 64-bit integers)
  -> UsageError saying there is no such run
- `repos` alone -> ReposCommand; `config` alone -> ConfigCommand(None, None)
- `pr`, `pr 123` or `pr #123` -> PRCommand (a run's pull requests and their actions)
- `setup owner/name [hint…]` -> SetupCommand; `setup` alone -> UsageError; `setup <other words>` is a run
- `stop`, `stop 123` or `stop #123` -> StopCommand
- `stop`/`pr` then one word that is not a run id -> UsageError; `stop`/`pr` then a run id and more
  words -> UsageError (one run id each); `stop`/`pr` then two or more words, the first not a run id,
  is a run ("stop the deploy script from failing on Fridays")
- `config repo owner/name` (or `none`), `config notify thread|channel|dm`,
  `config follow-ups all|mention`, `config agent codegen|claude_code|none` (the channel's) and
  `config my agent …` (one's own) -> ConfigCommand; those with anything else -> UsageError;
  `config <other words>` is a run
- anything else is a run. The options `repo=owner/name`, `model=name` and `agent=codegen|claude_code`
  are whole tokens (`repo=` may list several repositories, comma-separated, and name them with
  fnmatch patterns like `acme/*`: one run per repository)
  anywhere in the text (keys in any case, `=` only, each at most once) and are removed from
  the prompt; everything else is the prompt, in order.

UsageError.message is plain text; render it with bot.render.messages.error_text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.slack_text import decode
from storage.records import NOTIFY_CHOICES

USAGE = (
    "Usage: /codegen <prompt> [repo=owner/name] [model=name] [agent=codegen|claude_code]. "
    "Try /codegen help for everything the bot can do."
)

_OPTION_RE = re.compile(r"(?<!\S)(repo|model|agent)=(\S*)", re.IGNORECASE)
_OPTION_WITH_SPACE_RE = re.compile(r"\s*(?<!\S)(?:repo|model|agent)=\S*", re.IGNORECASE)
AGENT_TYPES = ("codegen", "claude_code")  # Codegen's `agent_type` values
_OPTION_EXAMPLES = {"repo": "repo=owner/name", "model": "model=name", "agent": "agent=claude_code"}
_REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_REPO_PATTERN_RE = re.compile(r"[A-Za-z0-9_.*?!\[\]-]+/[A-Za-z0-9_.*?!\[\]-]+")
_GLOB_CHARS = frozenset("*?[")
_RUN_ID_RE = re.compile(r"#?([0-9]+)")
MAX_RUN_ID = 2**63 - 1  # Codegen's run ids are 64-bit integers (and so are the bot's columns)


@dataclass(frozen=True)
class RunCommand:
    """Start an agent run."""

    prompt: str
    repo: str | None = None
    model: str | None = None
    agent_type: str | None = None
    repos: tuple[str, ...] = ()  # several repositories or fnmatch patterns: one run per repository


def is_pattern(repo: str) -> bool:
    """Whether a `repo=` item is an fnmatch pattern (`acme/*`) rather than one repository."""
    return bool(_GLOB_CHARS & set(repo))


@dataclass(frozen=True)
class HelpCommand:
    """Show the help text."""


@dataclass(frozen=True)
class StatusCommand:
    """Show a run's status; `run_id` None means the caller picks the run."""

    run_id: int | None


@dataclass(frozen=True)
class PRCommand:
    """Offer a run's pull-request actions; `run_id` None means the caller picks the run."""

    run_id: int | None


@dataclass(frozen=True)
class SetupCommand:
    """Have Codegen work out the setup commands of repository `repo`, with an optional `hint`."""

    repo: str
    hint: str = ""


@dataclass(frozen=True)
class ListCommand:
    """List recent runs."""


@dataclass(frozen=True)
class ReposCommand:
    """List the organization's repositories."""


@dataclass(frozen=True)
class ConfigCommand:
    """Show the channel's settings (`name` None), or set `name` ("repo", "notify", "follow-ups",
    "agent" for the channel's agent type, or "my_agent" for one's own) to `value`.

    A repo or agent `value` of None clears that default.
    """

    name: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class StopCommand:
    """Stop a run; `run_id` None means the run of the thread the command was given in."""

    run_id: int | None


@dataclass(frozen=True)
class ModalCommand:
    """`/codegen` with no text: open the modal that starts a run."""


@dataclass(frozen=True)
class UsageError:
    """The text could not be understood; `message` says why, in plain text."""

    message: str


Command = (
    RunCommand
    | HelpCommand
    | StatusCommand
    | ListCommand
    | ReposCommand
    | ConfigCommand
    | StopCommand
    | PRCommand
    | SetupCommand
    | UsageError
)
SETUP_USAGE = "Usage: /codegen setup owner/name [what the agent should know about setting it up]."
CONFIG_USAGE = (
    "Usage: /codegen config repo owner/name (or none), /codegen config notify thread|channel|dm, "
    "/codegen config follow-ups all|mention, /codegen config agent codegen|claude_code|none (this "
    "channel's), or /codegen config my agent codegen|claude_code|none (yours)."
)
FOLLOW_UP_CHOICES = ("all", "mention")
_CONFIG_NAMES = ("repo", "notify", "follow-ups", "agent")


def parse_command(text: str) -> Command:
    """Turn the text of a slash command, mention or DM into a command."""
    text = decode(text).strip()
    words = text.split()
    keyword = words[0].lower() if words else ""
    if len(words) == 1 and keyword == "help":
        return HelpCommand()
    if len(words) == 1 and keyword == "list":
        return ListCommand()
    if len(words) == 1 and keyword == "repos":
        return ReposCommand()
    mine = len(words) > 2 and [w.lower() for w in words[1:3]] == ["my", "agent"]
    if keyword == "config" and (len(words) == 1 or words[1].lower() in _CONFIG_NAMES or mine):
        return _parse_config(words[1:])
    if keyword in ("stop", "pr") and (len(words) <= 2 or _RUN_ID_RE.fullmatch(words[1])):
        return _parse_run_id(keyword, words[1:], StopCommand if keyword == "stop" else PRCommand)
    if keyword == "setup" and (len(words) == 1 or _REPO_RE.fullmatch(words[1])):
        if len(words) == 1:
            return UsageError(SETUP_USAGE)
        return SetupCommand(words[1], text.split(None, 2)[2].strip() if len(words) > 2 else "")
    if keyword == "status" and len(words) <= 2:
        return _parse_run_id(keyword, words[1:], StatusCommand)
    return _parse_run(text)


def _parse_run_id(
    keyword: str, words: list[str], make: type[StatusCommand | StopCommand | PRCommand]
) -> StatusCommand | StopCommand | PRCommand | UsageError:
    """`<keyword> [run id]`: the command for the run id (None without one), else why not."""
    if not words:
        return make(None)
    run_id = _RUN_ID_RE.fullmatch(words[0])
    if run_id is None:
        return UsageError(f"Run ids are numbers, like /codegen {keyword} 123 (not {words[0]!r}).")
    if len(words) > 1:
        return UsageError(f"/codegen {keyword} takes one run id, like /codegen {keyword} 123.")
    if int(run_id.group(1)) > MAX_RUN_ID:
        return UsageError(f"There is no run #{run_id.group(1)}: run ids that long can't be Codegen's.")
    return make(int(run_id.group(1)))


def parse_slash_command(text: str) -> Command | ModalCommand:
    """Like parse_command, except that no text at all opens the modal."""
    return ModalCommand() if not text.strip() else parse_command(text)


def strip_bot_mention(text: str, bot_user_id: str) -> str:
    """Remove every mention of the bot (`<@UBOT>` or `<@UBOT|name>`) and the space before it."""
    mention = re.compile(rf"\s*<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>")
    return mention.sub("", text).strip()


def _parse_config(words: list[str]) -> ConfigCommand | UsageError:
    if not words:
        return ConfigCommand()
    name = words[0].lower()
    if name == "my":  # `my agent <value>`
        name, words = "my_agent", words[1:]
    if len(words) != 2:
        return UsageError(CONFIG_USAGE)
    value = words[1]
    if name == "follow-ups":
        if value.lower() not in FOLLOW_UP_CHOICES:
            return UsageError(f"follow-ups is all or mention (not {value!r}).")
        return ConfigCommand("follow-ups", value.lower())
    if name in ("agent", "my_agent"):
        agent = value.lower()
        if agent not in (*AGENT_TYPES, "none"):
            return UsageError(f"agent is one of codegen, claude_code or none (not {value!r}).")
        return ConfigCommand(name, None if agent == "none" else agent)
    if name == "notify":
        if value.lower() not in NOTIFY_CHOICES:
            return UsageError(f"notify is one of thread, channel or dm (not {value!r}).")
        return ConfigCommand("notify", value.lower())
    if value.lower() == "none":
        return ConfigCommand("repo", None)
    if not _REPO_RE.fullmatch(value):
        return UsageError(f"{value} doesn't look like owner/name.")
    return ConfigCommand("repo", value)


def _parse_run(text: str) -> RunCommand | UsageError:
    options: dict[str, str] = {}
    for match in _OPTION_RE.finditer(text):
        key, value = match.group(1).lower(), match.group(2)
        if key in options:
            return UsageError(f"{key}= is given twice; give it once.")
        if not value:
            return UsageError(f"{key}= needs a value, like {_OPTION_EXAMPLES[key]}.")
        options[key] = value
    repo = options.get("repo")
    repos: tuple[str, ...] = ()
    if repo is not None and ("," in repo or is_pattern(repo)):
        repos = tuple(dict.fromkeys(item for item in repo.split(",") if item))
        bad = [item for item in repos if not _REPO_PATTERN_RE.fullmatch(item)]
        if bad or not repos:
            return UsageError(f"repo={repo}: each repository looks like owner/name (or a pattern: acme/*).")
        repo = None
        if len(repos) == 1 and not is_pattern(repos[0]):
            repo, repos = repos[0], ()
    if repo is not None and not _REPO_RE.fullmatch(repo):
        return UsageError(f"repo={repo} doesn't look like owner/name.")
    agent = options.get("agent")
    if agent is not None and agent.lower() not in AGENT_TYPES:
        return UsageError(f"agent={agent}: the agent is codegen or claude_code.")
    prompt = _OPTION_WITH_SPACE_RE.sub("", text).strip()
    if not prompt:
        return UsageError(f"Tell the agent what to do. {USAGE}")
    return RunCommand(
        prompt=prompt,
        repo=repo,
        model=options.get("model"),
        agent_type=agent.lower() if agent else None,
        repos=repos,
    )


# For the commands that carry a prompt or a repository of their own (bot.trigger_commands).
parse_run = _parse_run
REPO_RE = _REPO_RE
