"""Replies to `/codegen config` and `/codegen repos`, as mrkdwn; pure functions."""

from __future__ import annotations

from bot.render.limits import MESSAGE_TEXT_MAX, truncate
from bot.render.mrkdwn import escape_mrkdwn
from storage.records import ChannelSettings

NOTIFY_MEANING = {
    "thread": "in the run's thread",
    "channel": "in the run's thread, also sent to the channel",
    "dm": "in the run's thread, and by DM to whoever started it",
}


AGENT_NAMES = {"codegen": "Codegen", "claude_code": "Claude Code"}


def channel_settings_text(
    settings: ChannelSettings, agents: tuple[str | None, str | None] = (None, None)
) -> str:
    """The channel's settings and how to change them; `agents`: the channel's and the asker's default
    agent types (None: not set)."""
    repo = (
        f"`{escape_mrkdwn(settings.default_repo)}`" if settings.default_repo else "none (Codegen's default)"
    )
    return "\n".join(
        [
            f"*Codegen settings for <#{settings.channel}>*",
            f"• Default repository: {repo} — `/codegen config repo owner/name` (or `none`)",
            f"• Finished runs are announced {NOTIFY_MEANING[settings.notify]}"
            " — `/codegen config notify thread|channel|dm`",
            f"• Agent: {_agent(agents[0])} — `/codegen config agent codegen|claude_code|none`",
            f"• Your own agent (where the channel sets none): {_agent(agents[1])}"
            " — `/codegen config my agent codegen|claude_code|none`",
        ]
    )


def agent_type_changed_text(agent_type: str | None, *, mine: bool) -> str:
    """What someone sees after setting the channel's (or, `mine`, their own) default agent type."""
    whose = "Your runs" if mine else "Runs started here"
    if agent_type is None:
        return f":white_check_mark: {whose} without `agent=` now use the organization's default agent."
    return f":white_check_mark: {whose} without `agent=` now use {_agent(agent_type)} (`{agent_type}`)."


def _agent(agent_type: str | None) -> str:
    return AGENT_NAMES.get(agent_type or "", "none (the organization's default)")


def setting_changed_text(settings: ChannelSettings, name: str) -> str:
    """What an admin sees after changing setting `name` ("repo" or "notify")."""
    if name == "repo":
        if settings.default_repo:
            what = f"Runs started here without `repo=` now use `{escape_mrkdwn(settings.default_repo)}`."
        else:
            what = "Runs started here no longer have a default repository."
    else:
        what = f"Finished runs started here are now announced {NOTIFY_MEANING[settings.notify]}."
    return f":white_check_mark: {what}"


FOLLOW_UPS_MEANING = {
    "all": "every reply in a run's thread goes to the agent, but side talk that mentions others",
    "mention": "only replies in a run's thread that mention the bot go to the agent",
}


def follow_ups_line(mode: str) -> str:
    """The channel settings' line about follow-ups."""
    return f"• Follow-ups: {FOLLOW_UPS_MEANING[mode]} — `/codegen config follow-ups all|mention`"


def follow_ups_changed_text(mode: str) -> str:
    """What an admin sees after choosing the channel's follow-up mode."""
    return f":white_check_mark: From now on, {FOLLOW_UPS_MEANING[mode]}."


def repos_text(full_names: list[str]) -> str:
    """The organization's repositories, as many as fit in a message."""
    if not full_names:
        return "The Codegen organization has no repositories yet. Add them at codegen.com."
    lines = [f"*Repositories in Codegen* ({len(full_names)})"]
    budget = MESSAGE_TEXT_MAX - 200  # room for the last two lines
    for shown, name in enumerate(sorted(full_names, key=str.lower)):
        line = f"• `{escape_mrkdwn(name)}`"
        if len("\n".join([*lines, line])) > budget:
            lines.append(
                f"…and {len(full_names) - shown} more. Type in the repository menu of `/codegen` to find one."
            )
            break
        lines.append(line)
    lines.append(
        "Use one with `repo=owner/name`, or make it this channel's default with `/codegen config repo`."
    )
    return truncate("\n".join(lines), MESSAGE_TEXT_MAX)
