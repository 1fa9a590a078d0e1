"""Recording a prompt for several repositories (bot/prompt_groups.py expands, starts and follows it)."""

from __future__ import annotations

from typing import Any

from bot.command_text import RunCommand, is_pattern
from bot.render.messages import error_text
from handlers.context import HandlerContext


def record_prompt_group(
    ctx: HandlerContext, command: RunCommand, *, key: str, channel: str, user: str, options: dict[str, Any]
) -> str | None:
    """Record the group and its job; returns a refusal (more repositories named than allowed), or None.
    Patterns are counted once expanded, by the job (the organization's repositories may have to be
    fetched first)."""
    named = [repo for repo in command.repos if not is_pattern(repo)]
    if len(named) > ctx.max_repos_per_prompt:
        return error_text(
            f"That is {len(named)} repositories; one prompt may go to at most {ctx.max_repos_per_prompt}"
            " (CODEGEN_SLACK_MAX_REPOS_PER_PROMPT). Name fewer."
        )
    ctx.store.add_prompt_group(
        key=key,
        channel=channel,
        requester=user,
        prompt=command.prompt,
        patterns=list(command.repos),
        options=options,
        now=ctx.clock.now(),
    )
    ctx.wake()
    return None
