"""`/codegen setup <repo> [hint]`: record a `setup` request (bot/setups.py starts and follows it)."""

from __future__ import annotations

from bot.command_text import SetupCommand
from bot.render.messages import error_text
from bot.setups import setup_prompt
from handlers.context import HandlerContext
from handlers.repositories import repository_problem


def record_setup(
    ctx: HandlerContext, command: SetupCommand, *, key: str, user: str, channel: str
) -> str | None:
    """Record the request (its status message starts a thread, like a run's); returns a refusal, or None."""
    if len(command.hint) > ctx.max_prompt_chars:
        return error_text(f"That hint is over {ctx.max_prompt_chars:,} characters; please shorten it.")
    problem = repository_problem(ctx, command.repo)
    if problem:
        return error_text(problem)
    ctx.store.add_request(
        key=key,
        kind="setup",
        channel=channel,
        user=user,
        prompt=setup_prompt(command.repo, command.hint),
        now=ctx.clock.now(),
        options={"repo": command.repo, "hint": command.hint},
    )
    ctx.wake()
    return None
