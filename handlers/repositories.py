"""The organization's repositories as handlers see them: from RepoDirectory's cache, never waiting for
Codegen; a missing or stale cache is refreshed in the background, after the ack."""

from __future__ import annotations

from bot.codegen import Repository
from bot.repos import UnknownRepository, find_repository
from handlers.context import HandlerContext
from storage.job_kinds import PRIORITY, REPOS


def known_repositories(ctx: HandlerContext) -> list[Repository] | None:
    """The cached repositories (None before the first fetch); asks for a refresh when they are stale."""
    if ctx.repos is None:
        return None
    if not ctx.repos.is_fresh():
        ctx.store.arm_job(REPOS, REPOS, now=ctx.clock.now(), priority=PRIORITY[REPOS], payload={})
        ctx.wake()
    return ctx.repos.cached()


def repository_problem(ctx: HandlerContext, name: str) -> str | None:
    """Why `name` is not one of the organization's repositories (plain text); None if it is, or if unknown."""
    repos = known_repositories(ctx)
    if repos is None:
        return None
    try:
        find_repository(repos, name)
    except UnknownRepository as exc:
        return str(exc)
    return None
