"""The command line with bad settings: one message per bad setting, naming it, saying what is wrong and
where to get a right value, exit status 2, never a traceback. Each case runs the real CLI."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import SubprocessApp, bot_env, free_port, run_cli

# A stand-in for the test servers: settings are refused before anything is called.
GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-good",
    "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
    "CODEGEN_API_TOKEN": "codegen-good",
    "CODEGEN_ORG_ID": "7",
}

# (variable, bad value, what the message must say about it)
BAD_VALUES = [
    ("SLACK_BOT_TOKEN", "", "is not set"),
    ("SLACK_BOT_TOKEN", "xoxp-1-a-user-token", "should start with xoxb-"),
    ("SLACK_BOT_TOKEN", "xoxb-1-two\nlines", "line break"),
    ("SLACK_SIGNING_SECRET", "", "is not set"),
    ("SLACK_SIGNING_SECRET", "8f14e45f ceea167a", "line break or a space"),
    ("SLACK_APP_TOKEN", "xoxb-1-not-an-app-token", "should start with xapp-"),
    ("SLACK_API_URL", "slack.com/api/", "needs a scheme"),
    ("CODEGEN_API_TOKEN", "", "is not set"),
    ("CODEGEN_API_TOKEN", "sk-5f2a\n9c1e", "line break"),
    ("CODEGEN_ORG_ID", "seven", "valid integer"),
    ("CODEGEN_ORG_ID", "0", "greater than or equal to 1"),
    ("CODEGEN_API_BASE_URL", "api.codegen.com", "needs a scheme"),
    ("CODEGEN_SLACK_DB", "no-such-folder/bot.db", "does not exist"),
    ("CODEGEN_SLACK_DB", ".", "is a folder"),
    ("CODEGEN_SLACK_DB", "mysql://bot@db/codegen", "mysql:// databases are not supported"),
    ("CODEGEN_CREATES_PER_MINUTE", "0", "greater than or equal to 1"),
    ("CODEGEN_CALLS_PER_30S", "many", "valid integer"),
    ("CODEGEN_LOG_CALLS_PER_MINUTE", "-1", "greater than or equal to 1"),
    ("CODEGEN_TIMEOUT_SECONDS", "0", "greater than 0"),
    ("CODEGEN_SLACK_POLL_SECONDS", "soon", "valid number"),
    ("CODEGEN_SLACK_WATCHER_SHARE", "1.5", "less than or equal to 1"),
    ("CODEGEN_SLACK_ALLOWED_CHANNELS", "C0GENERAL,#random", "#random: not Slack channel ids"),
    ("CODEGEN_SLACK_ALLOWED_USERS", "@alice", "@alice: not Slack member ids"),
    ("CODEGEN_SLACK_ADMIN_USERS", "C0GENERAL", "not Slack member ids"),
    ("CODEGEN_SLACK_RESUME_POLICY", "everyone", "'anyone' or 'requester'"),
    ("CODEGEN_SLACK_RUNS_PER_USER_PER_HOUR", "-3", "greater than or equal to 0"),
    ("CODEGEN_SLACK_MAX_PROMPT_CHARS", "10", "greater than or equal to 100"),
    ("LOG_LEVEL", "verbose", "not a log level"),
    ("LOG_FORMAT", "xml", "'text' or 'json'"),
    ("PORT", "abc", "valid integer"),
    ("PORT", "0", "greater than or equal to 1"),
    ("PORT", "70000", "less than or equal to 65535"),
]
SECRETS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "CODEGEN_API_TOKEN")


def assert_refused(result, name: str, says: str) -> None:
    """Exit status 2, and one message naming `name` with what is wrong and where to look."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "cannot start" in result.stderr
    line = next(line for line in result.stderr.splitlines() if line.strip().startswith(name))
    assert says in line and " — " in line, line  # what is wrong, then where to get a right value


@pytest.mark.parametrize(("name", "value", "says"), BAD_VALUES, ids=[f"{n}={v!r}" for n, v, _ in BAD_VALUES])
def test_each_bad_setting_is_named_with_the_fix(tmp_path: Path, name: str, value: str, says: str) -> None:
    result = run_cli(["serve"], {**GOOD, name: value}, tmp_path)
    assert_refused(result, name, says)
    if name in SECRETS and value:
        assert value.split()[0] not in result.stderr  # a secret, even a wrong one, is not printed


def test_bad_settings_in_dotenv_are_named_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=abc\nLOG_LEVEL=loud\n")
    result = run_cli(["check"], GOOD, tmp_path)
    assert_refused(result, "PORT", "valid integer")
    assert_refused(result, "LOG_LEVEL", "not a log level")


def test_signing_secret_is_not_needed_in_socket_mode(tmp_path: Path) -> None:
    env = {**GOOD, "SLACK_SIGNING_SECRET": "", "SLACK_APP_TOKEN": "xapp-1-app", "CODEGEN_SLACK_DB": "no/x.db"}
    result = run_cli(["serve"], env, tmp_path)
    assert_refused(result, "CODEGEN_SLACK_DB", "does not exist")  # the other settings passed
    assert "SLACK_SIGNING_SECRET" not in result.stderr


def test_database_in_a_folder_the_bot_cannot_write(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through any mode bits; sysfs refuses new files even to root
        folder = Path("/sys")
    else:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
    result = run_cli(["serve"], {**GOOD, "CODEGEN_SLACK_DB": str(folder / "bot.db")}, tmp_path)
    assert_refused(result, "CODEGEN_SLACK_DB", "cannot write to")


def test_help_and_version_work_whatever_the_settings(tmp_path: Path) -> None:
    help_ = run_cli(["serve", "--help"], {"PORT": "abc"}, tmp_path)
    assert help_.returncode == 0 and "--port PORT" in help_.stdout
    version = run_cli(["--version"], {"PORT": "abc"}, tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("codegen-slack ")


@pytest.mark.parametrize("port", ["-1", "0", "99999", "http"])
def test_port_flag_is_a_port_number(tmp_path: Path, port: str) -> None:
    result = run_cli(["serve", "--port", port], GOOD, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument --port: '{port}' is not a port number (1 to 65535)" in result.stderr


def test_port_in_use_is_named(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"PORT {port} on 127.0.0.1 cannot be used (Address already in use)" in result.stderr


def test_port_and_empty_app_token_from_dotenv(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    """PORT is read from .env; an empty SLACK_APP_TOKEN (what compose passes for an unset variable)
    means HTTP mode, not Socket Mode."""
    port = free_port()
    (tmp_path / ".env").write_text(f"PORT={port}\nSLACK_APP_TOKEN=\n")
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db")
    bot = SubprocessApp(env, tmp_path, port, port_flag=False)
    try:
        bot.start()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert bot.command("status").status_code == 200  # /slack/events is served: HTTP mode
        assert "HTTP mode" in bot.output()
    finally:
        bot.stop()
