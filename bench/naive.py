"""The naive baseline: the bot with its watcher swapped for one GET per working run every 5 s, oldest
due first, behind the same client-side limiter and share. Run it like the bot itself:
`python -m bench.naive serve --port P`, with the bot's settings in the environment."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import bot.app
import bot.cli
from bot.app import Bot
from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError
from bot.config import Settings
from bot.loop import Worker
from bot.watcher import pull_requests
from storage.store import Store

POLL_SECONDS = 5.0


class NaiveWatcher:
    """One step: GET every due run, one after another, and record what changed."""

    def __init__(
        self,
        store: Store,
        codegen: CodegenClient,
        clock: Clock,
        share: float,
        on_change: Callable[[int], None],
    ) -> None:
        self._store = store
        self._codegen = codegen
        self._clock = clock
        self._share = share
        self._on_change = on_change

    def step(self) -> float | None:
        """Check each due run once; returns seconds until the next one is due."""
        for run in self._store.due_runs(self._clock.now()):
            try:
                fresh = self._codegen.get_run(run.run_id, share=self._share)
            except CodegenError:
                continue
            now = self._clock.now()
            changed = self._store.record_check(
                run.run_id,
                now=now,
                next_check_at=now + POLL_SECONDS,
                status=fresh.status,
                result=fresh.result,
                summary=fresh.summary,
                web_url=fresh.web_url,
                pull_requests=pull_requests(fresh),
            )
            if changed:
                self._on_change(run.run_id)
        due = self._store.next_check_due()
        return None if due is None else max(0.05, due - self._clock.now())


class NaiveBot(Bot):
    """The real bot, but for its watcher."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        share = settings.codegen_slack_watcher_share
        naive = NaiveWatcher(self.store, self.codegen, self.clock, share, lambda run_id: self.runner.wake())
        self.workers["watcher"] = Worker("watcher", naive.step)


if __name__ == "__main__":
    bot.app.Bot = NaiveBot  # type: ignore[misc]  # `codegen-slack serve` builds its Bot from here
    sys.exit(bot.cli.main())
