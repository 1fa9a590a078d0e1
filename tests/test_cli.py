"""The command line: clear messages for bad settings, and `check` against the real (test) services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CODEGEN_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def service_env(codegen: CodegenServer, slack: SlackServer, **overrides: str) -> dict[str, str]:
    env = {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "s3cret-signing",
        "SLACK_API_URL": slack.api_url,
        "CODEGEN_API_TOKEN": codegen.token,
        "CODEGEN_ORG_ID": str(codegen.org_id),
        "CODEGEN_API_BASE_URL": codegen.url,
    }
    env.update(overrides)
    return env


def test_missing_settings_name_each_variable_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "CODEGEN_ORG_ID": "not-a-number"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CODEGEN_API_TOKEN", "CODEGEN_ORG_ID"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_settings_are_read_from_dotenv(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = service_env(codegen_api, slack_server)
    (tmp_path / ".env").write_text(f"CODEGEN_API_TOKEN={env.pop('CODEGEN_API_TOKEN')}\n")
    result = run_cli("check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Slack: ok" in result.stdout and "Codegen: ok" in result.stdout


def test_check_says_what_is_wrong(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = service_env(
        codegen_api, slack_server, SLACK_BOT_TOKEN="xoxb-wrong", CODEGEN_API_TOKEN="wrong-token"
    )
    result = run_cli("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Slack: FAILED — invalid_auth" in result.stdout
    assert "Codegen: FAILED" in result.stdout and "CODEGEN_API_TOKEN" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_unreachable_services_are_named_not_traced(tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "CODEGEN_API_TOKEN": "t",
        "CODEGEN_ORG_ID": "1",
        "CODEGEN_API_BASE_URL": "http://127.0.0.1:9",
    }
    result = run_cli("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Slack: FAILED" in result.stdout and "Codegen: FAILED" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
