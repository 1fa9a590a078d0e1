"""Turns `repo=owner/name` into a Codegen repository id, with close matches for typos."""

from __future__ import annotations

import difflib
import threading

from bot.clock import Clock
from bot.codegen import CodegenClient, Repository

CACHE_SECONDS = 300.0


class UnknownRepository(Exception):
    """The organization has no repository of that name; the message lists close matches."""


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

    def resolve(self, name: str) -> Repository:
        """The repository called `name` (owner/name or bare name, case-insensitive)."""
        repos = self.all()
        wanted = name.lower()
        for repo in repos:
            if wanted in {repo.full_name.lower(), repo.name.lower()}:
                return repo
        names = [repo.full_name for repo in repos]
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        if not names:
            hint = " The Codegen organization has no repositories yet."
        raise UnknownRepository(f"Codegen has no repository called `{name}`.{hint}")
