"""The app under test: the real Bot and HTTP endpoint, wired to the loopback Codegen and Slack servers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.app import Bot
from bot.clock import Clock
from bot.config import Settings
from bot.listeners import http_server, metrics_server
from tests.servers.slack_server import WORKSPACE

SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"  # 32 hex digits, as Slack makes them
T = TypeVar("T")


def make_settings(codegen_server: Any, slack_server: Any, db_path: Path | str, **overrides: Any) -> Settings:
    """Settings that point the bot at the test servers, with a fast poll."""
    values: dict[str, Any] = {
        "slack_bot_token": slack_server.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack_server.api_url,
        "codegen_api_token": codegen_server.token,
        "codegen_org_id": codegen_server.org_id,
        "codegen_api_base_url": codegen_server.url,
        "codegen_slack_db": str(db_path),
        "codegen_slack_poll_seconds": 0.2,
        "codegen_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def sign(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack sends with a request body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll until `predicate()` is truthy; fail the test with `what` after `timeout` seconds (generous:
    a loaded 2-core CI machine is slow, and a passing wait ends as soon as the condition holds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class AppUnderTest:
    """A started Bot behind a real waitress HTTP server on 127.0.0.1."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.bot = Bot(settings, clock=clock)
        self._server = http_server(self.bot, "127.0.0.1", 0)  # as `serve` builds it
        self.metrics_server = metrics_server(self.bot)  # /metrics alone, with CODEGEN_SLACK_METRICS_ADDRESS
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._events = 0
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def start(self) -> AppUnderTest:
        self.bot.start()
        self._server.start()
        if self.metrics_server is not None:
            self.metrics_server.start()
        return self

    def serve(self) -> AppUnderTest:
        """Answer Slack's requests without starting the bot's threads: the test runs its jobs
        (`bot.runner.drain()`) in fake time."""
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        self.http.close()
        self.bot.stop()

    def post(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST raw bytes to /slack/events with Slack's signature (or the given headers)."""
        signed = headers if headers is not None else sign(body)
        return self.http.post("/slack/events", content=body, headers={"Content-Type": content_type, **signed})

    def command(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0GENERAL",
        response_url: str = "",
        trigger_id: str | None = None,
    ) -> httpx.Response:
        """Send `/codegen text` as Slack does (form-encoded, signed)."""
        self._events += 1
        form = {
            "token": "legacy",
            "team_id": WORKSPACE,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/codegen",
            "text": text,
            "api_app_id": "A1",
            "response_url": response_url,
            "trigger_id": trigger_id or f"trigger-{self._events}-{time.monotonic_ns()}",
        }
        return self.post(urlencode(form).encode(), "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], *, event_id: str | None = None) -> httpx.Response:
        """Deliver an Events API callback as Slack does (JSON, signed). A person's event names their
        team as `team` and `user_team` (this workspace unless the event already says another)."""
        self._events += 1
        if event.get("user") and not event.get("bot_id"):
            team = event.get("user_team") or event.get("team") or WORKSPACE
            event = {**event, "team": team, "user_team": team}
        body = {
            "token": "legacy",
            "team_id": WORKSPACE,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._events}{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": WORKSPACE, "user_id": "UBOT", "is_bot": True}],
        }
        return self.post(json.dumps(body).encode(), "application/json")
