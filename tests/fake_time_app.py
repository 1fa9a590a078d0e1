"""The app under test in fake time: signed Slack requests reach the real Bot over HTTP, and the test
runs the bot's jobs itself (`work()`), against the Codegen and Slack test servers on one FakeClock.
`restart()` stops the bot and starts a new one on the same database, as after a crash or deploy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakeclock import FakeClock
from tests.harness import AppUnderTest, make_settings
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_fixtures import ALICE, BOB, GENERAL, start_slack_server
from tests.servers.slack_server import SlackServer

__all__ = ["ALICE", "BOB", "GENERAL", "FakeTimeApp", "make_fake_time_app"]


class FakeTimeApp:
    """One bot process at a time on `db_path`, answering over HTTP; its jobs run only in `work()`."""

    def __init__(self, codegen: CodegenServer, slack: SlackServer, db_path: str, **settings: Any) -> None:
        assert isinstance(codegen.clock, FakeClock)
        self.clock: FakeClock = codegen.clock
        self.codegen, self.slack, self._db_path, self._settings = codegen, slack, db_path, settings
        self.app = self._start()

    def _start(self) -> AppUnderTest:
        settings = make_settings(self.codegen, self.slack, self._db_path, **self._settings)
        app = AppUnderTest(settings, clock=self.clock).serve()
        app.bot.arm_recurring_jobs()  # what Bot.start does before its threads begin
        return app

    def work(self, seconds: float = 0.0) -> None:
        """Run every job due within the next `seconds` of fake time (time moves on to each)."""
        end = self.clock.now() + seconds
        while True:
            self.app.bot.leadership.step()  # what its thread does every 2 s: take or renew the lead
            wait = self.app.bot.runner.drain()
            if wait is None or self.clock.now() + wait > end:
                break
            self.clock.advance(wait)
        if end > self.clock.now():
            self.clock.advance(end - self.clock.now())
        self.app.bot.leadership.step()

    def finish_runs(self) -> None:
        """Codegen finishes every run, and the bot sees it (so no job keeps watching them)."""
        for run in self.codegen.runs():
            if run["status"] == "ACTIVE":
                self.codegen.set_status(run["id"], "COMPLETE", result="Done.")
        self.app.bot.watcher.step()
        self.work()

    def restart(self, down_for: float = 0.0) -> None:
        """Stop this bot process, let `down_for` seconds pass, and start a new one on the same database."""
        self.stop()
        self.clock.advance(down_for)
        self.app = self._start()

    def stop(self) -> None:
        self.app.stop()

    def command(self, text: str, *, user: str = ALICE, channel: str = GENERAL) -> str:
        """`/codegen text`; returns the ephemeral answer (empty when there is none)."""
        response = self.app.command(text, user=user, channel=channel)
        assert response.status_code == 200
        return response.json().get("text", "") if response.content else ""

    def event(self, event: dict[str, Any]) -> None:
        assert self.app.event(event).status_code == 200

    def prompts(self) -> list[str]:
        """The prompts of the runs Codegen was asked to start, oldest first."""
        return [self.codegen.run_inputs(run["id"])["prompt"] for run in self.codegen.runs()]


@pytest.fixture
def make_fake_time_app(codegen_server: CodegenServer, app_db: str) -> Iterator[Callable[..., FakeTimeApp]]:
    """Starts the app in fake time with extra settings as keywords, on the default Slack workspace
    (its rate limits off: they are not what these tests are about)."""
    slack = start_slack_server(codegen_server.clock)
    slack.rate_limits_enabled = False
    apps: list[FakeTimeApp] = []

    def start(**settings: Any) -> FakeTimeApp:
        apps.append(FakeTimeApp(codegen_server, slack, app_db, **settings))
        return apps[-1]

    yield start
    for app in apps:
        app.stop()
    slack.close()
