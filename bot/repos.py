"""Turns `repo=owner/name` into a Codegen repository id, with close matches for typos."""

from __future__ import annotations

import difflib
import threading

from bot.clock import Clock
from bot.codegen import CodegenClient, Repository

CACHE_SECONDS = 300.0
REPOS_LISTED = 10  # repositories a refusal names when none is close to what was asked for


class UnknownRepository(Exception):
    """The organization has no repository of that name; the message names ones that exist."""


class RepoDirectory:
    """The organization's repositories, fetched at most every few minutes."""

    def __init__(self, codegen: CodegenClient, clock: Clock) -> None:
        self._codegen = codegen
        self._clock = clock
        self._lock = threading.Lock()
        self._repos: list[Repository] = []
        self._fetched_at: float | None = None

    def all(self) -> list[Repository]:
        """Every repository, cached for CACHE_SECONDS."""
        with self._lock:
            now = self._clock.monotonic()
            if self._fetched_at is None or now - self._fetched_at > CACHE_SECONDS:
                self._repos = self._codegen.repositories()
                self._fetched_at = now
            return list(self._repos)

    def cached(self) -> list[Repository] | None:
        """The repositories as last fetched, never waiting for Codegen (None before the first fetch)."""
        repos, fetched_at = self._repos, self._fetched_at  # read without the lock a fetch may hold
        return None if fetched_at is None else list(repos)

    def is_fresh(self) -> bool:
        """Whether the cache is younger than CACHE_SECONDS (so `all()` would not call Codegen)."""
        fetched_at = self._fetched_at
        return fetched_at is not None and self._clock.monotonic() - fetched_at <= CACHE_SECONDS

    def resolve(self, name: str) -> Repository:
        """The repository called `name` (owner/name or bare name, case-insensitive)."""
        return find_repository(self.all(), name)


def find_repository(repos: list[Repository], name: str) -> Repository:
    """The repository in `repos` called `name`; UnknownRepository (naming what would work) if none is."""
    wanted = name.lower()
    for repo in repos:
        if wanted in {repo.full_name.lower(), repo.name.lower()}:
            return repo
    raise UnknownRepository(unknown_repository(name, [repo.full_name for repo in repos]))


def unknown_repository(name: str, full_names: list[str]) -> str:
    """Why `name` is refused and what would work: the closest of `full_names` (matched on the whole
    name or the part after the owner), else the first REPOS_LISTED of them and how to see the rest."""
    refusal = f"Codegen has no repository called `{name}`."
    if not full_names:
        return f"{refusal} The Codegen organization has no repositories yet."
    by_short = {full.split("/")[-1].lower(): full for full in full_names}
    close = difflib.get_close_matches(name, full_names, n=5, cutoff=0.5)
    close += [by_short[short] for short in difflib.get_close_matches(name.split("/")[-1].lower(), by_short)]
    if close:
        return f"{refusal} Did you mean {_listed(list(dict.fromkeys(close))[:5])}?"
    shown = sorted(full_names, key=str.lower)[:REPOS_LISTED]
    more = len(full_names) - len(shown)
    rest = f", and {more} more: `/codegen repos`" if more else ""
    return f"{refusal} The organization's repositories: {_listed(shown)}{rest}."


def _listed(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)
