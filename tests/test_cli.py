"""The command line: clear messages for bad settings, and `check` against the real (test) services."""

from __future__ import annotations

from pathlib import Path

from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import bot_env, run_cli


def test_missing_settings_name_each_variable_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(["serve"], {"CODEGEN_ORG_ID": "not-a-number"}, tmp_path)
    assert result.returncode == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CODEGEN_API_TOKEN", "CODEGEN_ORG_ID"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_settings_are_read_from_dotenv(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db")
    (tmp_path / ".env").write_text(f"CODEGEN_API_TOKEN={env.pop('CODEGEN_API_TOKEN')}\n")
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Slack: ok" in result.stdout and "Codegen: ok" in result.stdout


def test_check_says_what_is_wrong(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(
        codegen_api,
        slack_server,
        tmp_path / "bot.db",
        slack_bot_token="xoxb-wrong",
        codegen_api_token="wrong-token",
    )
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 1
    assert "Slack: FAILED — invalid_auth" in result.stdout
    assert "Codegen: FAILED" in result.stdout and "CODEGEN_API_TOKEN" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_unreachable_services_are_named_not_traced(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "CODEGEN_API_TOKEN": "t",
        "CODEGEN_ORG_ID": "1",
        "CODEGEN_API_BASE_URL": "http://127.0.0.1:9",
    }
    result = run_cli(["check"], env, tmp_path)
    assert result.returncode == 1
    assert "Slack: FAILED" in result.stdout and "Codegen: FAILED" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
