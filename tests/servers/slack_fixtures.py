"""Pytest fixtures for the Slack Web API and Socket Mode test servers.

The default workspace: channel C0GENERAL ("general", the bot is a member) and users U0ALICE
(Alice) and U0BOB (Bob), with rate limits on and the real clock. Build one on a FakeClock with
`start_slack_server(clock)`. The fixture functions carry a `_fixture` suffix so that importing
them does not shadow the fixture names that tests take as arguments.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.clock import Clock
from tests.servers.slack_server import SlackServer
from tests.servers.socket_mode_server import SocketModeServer

GENERAL = "C0GENERAL"
ALICE = "U0ALICE"
BOB = "U0BOB"


def start_slack_server(clock: Clock | None = None) -> SlackServer:
    """A started SlackServer holding the default workspace; close() it when done."""
    server = SlackServer(clock=clock).start()
    server.add_user(ALICE, "alice", real_name="Alice")
    server.add_user(BOB, "bob", real_name="Bob")
    server.add_channel(GENERAL, name="general", members=[ALICE, BOB])
    return server


@pytest.fixture(name="slack_server")
def slack_server_fixture() -> Iterator[SlackServer]:
    """The Web API double with the default workspace."""
    with start_slack_server() as server:
        yield server


@pytest.fixture(name="socket_mode_server")
def socket_mode_server_fixture(slack_server: SlackServer) -> Iterator[SocketModeServer]:
    """A Socket Mode double, attached so `slack_server`'s apps.connections.open hands out its URL."""
    with SocketModeServer(app_id=slack_server.app_id) as server:
        slack_server.socket_mode = server
        yield server
        slack_server.socket_mode = None
