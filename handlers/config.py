"""`/codegen config` (a channel's settings; only admins change them) and `/codegen repos`."""

from __future__ import annotations

from typing import Any

from bot.command_text import ConfigCommand
from bot.render.config import (
    agent_type_changed_text,
    channel_settings_text,
    follow_ups_changed_text,
    follow_ups_line,
    repos_text,
    setting_changed_text,
)
from bot.render.messages import error_text
from handlers.context import HandlerContext
from handlers.repositories import known_repositories, repository_problem
from storage.audit import CONFIG, REFUSED
from storage.job_kinds import PRIORITY, REPOS

UNCHECKED_REPO = (
    "I couldn't check it against Codegen's repositories yet (their list is still loading): a run"
    " started here says so if Codegen doesn't know it, and setting it again in a moment checks it."
)
ONLY_ADMINS = "Only the bot's admins can change this channel's settings; /codegen config shows them."


def answer_config(ctx: HandlerContext, command: ConfigCommand, *, user: str, channel: str) -> str:
    """Show the channel's settings, or change one (admins only); returns the ephemeral reply."""
    if command.name is None:
        defaults = ctx.store.agent_type_default
        agents = (defaults("channel", channel), defaults("user", user))
        settings = channel_settings_text(ctx.store.channel_settings(channel), agents=agents)
        return f"{settings}\n{follow_ups_line(ctx.store.follow_up_mode(channel))}"
    if command.name == "my_agent":  # one's own default: no admin needed
        ctx.store.set_agent_type_default("user", user, command.value)
        return agent_type_changed_text(command.value, mine=True)
    change = f"{command.name}={command.value or 'none'}"
    if not ctx.is_admin(user):
        ctx.record_audit(user, CONFIG, channel=channel, outcome=REFUSED, detail=f"{change}: not an admin")
        return error_text(ONLY_ADMINS)
    if command.name == "follow-ups":
        mode = "mention" if command.value == "mention" else "all"
        audit = ctx.audit(user, CONFIG, channel=channel, detail=f"follow-ups={mode}")
        ctx.store.set_follow_up_mode(channel, mode, user=user, now=ctx.clock.now(), audit=audit)
        return follow_ups_changed_text(mode)
    if command.name == "agent":
        ctx.store.set_agent_type_default("channel", channel, command.value)
        ctx.record_audit(user, CONFIG, channel=channel, detail=change)
        return agent_type_changed_text(command.value, mine=False)
    unchecked = ""
    if command.name == "repo" and command.value:
        problem = repository_problem(ctx, command.value)
        if problem:
            return error_text(problem)
        if known_repositories(ctx) is None:
            unchecked = "\n" + UNCHECKED_REPO
    field = "default_repo" if command.name == "repo" else "notify"
    audit = ctx.audit(user, CONFIG, channel=channel, detail=change)
    settings = ctx.store.set_channel_settings(
        channel, user=user, now=ctx.clock.now(), audit=audit, **{field: command.value}
    )
    return setting_changed_text(settings, command.name) + unchecked


def answer_repos(ctx: HandlerContext, command: dict[str, Any]) -> str | None:
    """The repository list when it is cached; otherwise None, and a `repos` job answers through the
    command's response_url after the ack."""
    assert ctx.repos is not None
    if ctx.repos.is_fresh():
        return repos_text([repo.full_name for repo in ctx.repos.cached() or []])
    now = ctx.clock.now()
    payload = {"response_url": command["response_url"]}
    key = f"{REPOS}:{command.get('trigger_id') or now}"
    ctx.store.add_job(REPOS, key, now=now, priority=PRIORITY[REPOS], payload=payload)
    ctx.wake()
    return None
