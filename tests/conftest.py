"""Shared fixtures: the loopback Codegen and Slack servers, and the app under test wired to both."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import SystemClock
from tests.harness import AppUnderTest, make_settings
from tests.postgres import empty_schema, postgres_server
from tests.servers.codegen_fixtures import codegen_server, make_codegen_server
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_fixtures import slack_server_fixture, socket_mode_server_fixture
from tests.servers.slack_server import SlackServer

__all__ = ["codegen_server", "slack_server_fixture", "socket_mode_server_fixture"]

CODEGEN_TOKEN = "test-codegen-token"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Undo what a test's in-process `codegen-slack` run did to logging: its handler writes to the
    test's captured stderr, which is closed once the test ends, so later tests' log lines would fail."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks


@pytest.fixture
def codegen_api() -> Iterator[CodegenServer]:
    """The Codegen double on the real clock (the app under test runs in real time)."""
    server = make_codegen_server(clock=SystemClock(), token=CODEGEN_TOKEN)
    server.token = CODEGEN_TOKEN  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
    assert server.contract_violations == []


@pytest.fixture
def make_app(codegen_api: CodegenServer, slack_server: SlackServer, app_db: str) -> Iterator:
    """Start the app (real HTTP endpoint) on `app_db`; extra settings as keywords."""
    apps: list[AppUnderTest] = []

    def start(**overrides: object) -> AppUnderTest:
        settings = make_settings(codegen_api, slack_server, app_db, **overrides)
        app = AppUnderTest(settings).start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


@pytest.fixture
def app(make_app) -> AppUnderTest:
    """The app with default test settings."""
    return make_app()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of the session's PostgreSQL server (see tests/postgres.py)."""
    with postgres_server() as url:
        yield url


def _new_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield str(tmp_path / "bot.db")
        return
    with empty_schema(request.getfixturevalue("postgres")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on each backend in turn: a SQLite file, or a PostgreSQL schema."""
    yield from _new_database(request.param, request, tmp_path)


@pytest.fixture
def app_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The database of `make_app`: tmp_path/bot.db, or a PostgreSQL schema where a module or test
    parametrizes it (`@pytest.mark.parametrize("app_db", BACKENDS, indirect=True)`)."""
    yield from _new_database(getattr(request, "param", "sqlite"), request, tmp_path)
