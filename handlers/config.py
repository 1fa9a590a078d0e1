"""`/codegen config` (a channel's settings; only admins change them) and `/codegen repos`."""

from __future__ import annotations

from collections.abc import Callable

from bot.codegen import CodegenError
from bot.command_text import ConfigCommand
from bot.render.config import channel_settings_text, repos_text, setting_changed_text
from bot.render.messages import error_text
from handlers.context import HandlerContext
from handlers.repositories import repository_problem

ONLY_ADMINS = "Only the bot's admins can change this channel's settings; /codegen config shows them."


def answer_config(ctx: HandlerContext, command: ConfigCommand, *, user: str, channel: str) -> str:
    """Show the channel's settings, or change one (admins only); returns the ephemeral reply."""
    if command.name is None:
        return channel_settings_text(ctx.store.channel_settings(channel))
    if not ctx.is_admin(user):
        return error_text(ONLY_ADMINS)
    if command.name == "repo" and command.value:
        problem = repository_problem(ctx, command.value)
        if problem:
            return error_text(problem)
    field = "default_repo" if command.name == "repo" else "notify"
    settings = ctx.store.set_channel_settings(
        channel, user=user, now=ctx.clock.now(), **{field: command.value}
    )
    return setting_changed_text(settings, command.name)


def answer_repos(ctx: HandlerContext, respond: Callable[..., object]) -> str | None:
    """The repository list when it is cached; otherwise None, and `respond` gets it after the ack."""
    assert ctx.repos is not None
    repos = ctx.repos
    if repos.is_fresh():
        return repos_text([repo.full_name for repo in repos.cached() or []])

    def look_up() -> None:
        try:
            text = repos_text([repo.full_name for repo in repos.all()])
        except CodegenError as exc:
            text = error_text(f"Couldn't list the repositories: {exc.user_message}")
        respond(text=text, response_type="ephemeral")

    ctx.reply_later(look_up)
    return None
