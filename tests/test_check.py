"""`codegen-slack check` against the Codegen and Slack test servers: one line per check, ✓ or ✗ with
the fix, and a non-zero exit when anything `serve` needs is wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.servers.socket_mode_server import SocketModeServer
from tests.subprocess_app import bot_env, run_cli


def check(env: dict[str, str], workdir: Path) -> tuple[int, dict[str, str]]:
    """Run `check`; its exit status and its lines by what they check (the text before the first colon)."""
    result = run_cli(["check"], env, workdir)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = [line for line in result.stdout.splitlines() if line]
    return result.returncode, {line[2:].split(":")[0]: line for line in lines}


def test_all_good(tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer) -> None:
    status, lines = check(bot_env(codegen_api, slack_server, tmp_path / "bot.db"), tmp_path)
    assert status == 0, lines
    assert lines["Codegen API token"].startswith("✓")
    assert lines[f"Codegen organization {codegen_api.org_id}"].startswith("✓")
    assert lines["Slack bot token"] == "✓ Slack bot token: @codegen in workspace Codegen Test"
    assert lines["Slack scopes"].startswith("✓")
    assert lines["Socket Mode"].startswith("- Socket Mode: off")
    assert lines[f"Database {tmp_path / 'bot.db'}"].startswith("✓")
    assert lines["Signing secret"].startswith("✓")


def test_wrong_tokens(tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer) -> None:
    env = bot_env(
        codegen_api,
        slack_server,
        tmp_path / "bot.db",
        slack_bot_token="xoxb-wrong",
        codegen_api_token="wrong",
    )
    status, lines = check(env, tmp_path)
    assert status == 1
    assert lines["Slack bot token"].startswith("✗ Slack bot token: invalid_auth — fix SLACK_BOT_TOKEN (")
    assert (
        lines["Codegen API token"].startswith("✗")
        and "fix CODEGEN_API_TOKEN (codegen.com" in lines["Codegen API token"]
    )


def test_organization_the_token_cannot_reach(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db", codegen_org_id=codegen_api.org_id + 1)
    status, lines = check(env, tmp_path)
    assert status == 1
    assert lines["Codegen API token"].startswith("✓")  # /users/me is not about the organization
    line = lines[f"Codegen organization {codegen_api.org_id + 1}"]
    assert line.startswith("✗") and "no access" in line and "fix CODEGEN_ORG_ID" in line


def test_scopes_missing_from_the_installed_app(tmp_path: Path, codegen_api: CodegenServer) -> None:
    with SlackServer(scopes={"chat:write", "commands", "app_mentions:read"}) as slack:
        status, lines = check(bot_env(codegen_api, slack, tmp_path / "bot.db"), tmp_path)
    assert status == 1
    line = lines["Slack scopes"]
    assert line.startswith("✗") and "reactions:write" in line and "users:read" in line and "reinstall" in line
    assert "chat:write," not in line and "commands" not in line


def test_socket_mode_app_token(
    tmp_path: Path,
    codegen_api: CodegenServer,
    slack_server: SlackServer,
    socket_mode_server: SocketModeServer,
) -> None:
    good = bot_env(
        codegen_api,
        slack_server,
        tmp_path / "bot.db",
        slack_app_token=slack_server.app_token,
        slack_signing_secret="",
    )
    status, lines = check(good, tmp_path)
    assert status == 0, lines
    assert lines["Slack app token"].startswith("✓")
    assert lines["Signing secret"] == "- Signing secret: not used in Socket Mode"
    status, lines = check({**good, "SLACK_APP_TOKEN": "xapp-1-revoked"}, tmp_path)
    assert status == 1
    assert lines["Slack app token"].startswith("✗ Slack app token: invalid_auth — fix SLACK_APP_TOKEN (")


def test_database_from_a_newer_version(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    db = tmp_path / "bot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    status, lines = check(bot_env(codegen_api, slack_server, db), tmp_path)
    assert status == 1
    line = lines[f"Database {db}"]
    assert line.startswith("✗") and "schema version 99 is from a newer codegen-slack" in line
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99  # check changed nothing


def test_database_that_is_not_sqlite(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    db = tmp_path / "bot.db"
    db.write_text("these are my notes, not a database\n" * 100)
    status, lines = check(bot_env(codegen_api, slack_server, db), tmp_path)
    assert status == 1
    assert lines[f"Database {db}"].startswith("✗") and "fix CODEGEN_SLACK_DB" in lines[f"Database {db}"]


def test_signing_secret_of_the_wrong_form(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(
        codegen_api, slack_server, tmp_path / "bot.db", slack_signing_secret="A0123456789"
    )  # an app id
    status, lines = check(env, tmp_path)
    assert status == 1
    assert lines["Signing secret"].startswith("✗") and "fix SLACK_SIGNING_SECRET" in lines["Signing secret"]


def test_settings_are_read_from_dotenv(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db")
    (tmp_path / ".env").write_text(f"CODEGEN_API_TOKEN={env.pop('CODEGEN_API_TOKEN')}\n")
    status, lines = check(env, tmp_path)
    assert status == 0, lines


def test_unreachable_services_are_named_not_traced(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "CODEGEN_API_TOKEN": "t",
        "CODEGEN_ORG_ID": "1",
        "CODEGEN_API_BASE_URL": "http://127.0.0.1:9",
    }
    status, lines = check(env, tmp_path)
    assert status == 1
    assert lines["Slack API"] == "✗ Slack API: cannot reach http://127.0.0.1:9/api/ (Connection refused)"
    assert lines["Codegen API"].startswith("✗ Codegen API: Codegen is not reachable")
    result = run_cli(["check"], env, tmp_path)
    assert result.stderr == ""  # no retry or connection log lines between the check's own


def test_database_in_a_missing_folder(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    result = run_cli(["check"], bot_env(codegen_api, slack_server, tmp_path / "gone" / "bot.db"), tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"CODEGEN_SLACK_DB is invalid ('{tmp_path / 'gone' / 'bot.db'}'): the folder" in result.stderr
