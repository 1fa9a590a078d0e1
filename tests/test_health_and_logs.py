"""What an operator sees of a running bot: /healthz telling the truth about the database, Slack and
Codegen, the start-up line, warnings about a wrong signing secret, quiet httpx and JSON logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import startup_line
from tests.harness import AppUnderTest, make_settings, sign, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import SubprocessApp, bot_env


@pytest.fixture
def bot(tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer) -> Iterator[SubprocessApp]:
    app = SubprocessApp(bot_env(codegen_api, slack_server, tmp_path / "bot.db"), tmp_path)
    yield app.start()
    app.stop()


def test_healthy_bot_reports_each_dependency_and_logs_one_startup_line(
    bot: SubprocessApp, codegen_api: CodegenServer, tmp_path: Path
) -> None:
    # At start the bot tries both tokens once, so the age of the last good Codegen call is known at once.
    age = wait_for(
        lambda: bot.http.get("/healthz").json()["codegen_last_ok_seconds_ago"], what="a Codegen call"
    )
    assert 0 <= age < 60
    answer = bot.http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {
        "ok": True,
        "database": "ok",
        "slack": "ok",
        "codegen": "ok",
        "codegen_last_ok_seconds_ago": answer.json()["codegen_last_ok_seconds_ago"],
        "leader": True,  # the only process on its SQLite file
    }
    startup = [line for line in bot.output().splitlines() if " started: " in line]
    assert len(startup) == 1
    assert (
        f"started: HTTP mode, database {tmp_path / 'bot.db'}, "
        f"Codegen org {codegen_api.org_id} at {codegen_api.url}, "
        f"listening on http://127.0.0.1:{bot.port} (/slack/events, /healthz, /metrics)"
    ) in startup[0]


def test_startup_line_names_a_postgresql_database_without_its_password(
    codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    url = "postgresql://bot:s3cret-pw@db.example:5432/codegen"
    line = startup_line(make_settings(codegen_api, slack_server, url), "127.0.0.1", 3000)
    assert "database postgresql://bot@db.example:5432/codegen," in line
    assert "s3cret-pw" not in line


def unhealthy(bot: SubprocessApp | AppUnderTest) -> dict:
    """The body of /healthz once it answers 503."""
    answer = wait_for(lambda: (r := bot.http.get("/healthz")).status_code == 503 and r, what="503")
    assert answer.json()["ok"] is False
    return answer.json()


def test_slack_token_refused_at_start(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db", slack_bot_token="xoxb-of-another-install")
    bot = SubprocessApp(env, tmp_path).start()
    try:
        assert unhealthy(bot)["slack"] == "invalid_auth"
    finally:
        bot.stop()
    assert "fix SLACK_BOT_TOKEN" in bot.output()


def test_slack_token_revoked_while_running(
    bot: SubprocessApp, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    bot.command("fix the flaky login test")
    wait_for(lambda: slack_server.messages("C0GENERAL"), what="the run's card")
    slack_server.bot_token = "xoxb-after-reinstall"  # the bot's token no longer works
    bot.command("add dark mode")
    assert unhealthy(bot)["slack"] == "invalid_auth"


def test_codegen_token_revoked_while_running(bot: SubprocessApp, codegen_api: CodegenServer) -> None:
    codegen_api.token = "rotated"  # the bot's token was revoked on codegen.com
    bot.command("fix the flaky login test")
    assert unhealthy(bot)["codegen"].startswith(
        "Codegen refused this token access to the organization (HTTP 403)"
    )


def test_read_only_database_makes_health_fail(app: AppUnderTest) -> None:
    assert app.http.get("/healthz").status_code == 200
    app.bot.store._conn.execute("PRAGMA query_only = 1")  # reads work, every write fails
    assert "readonly" in unhealthy(app)["database"]


def test_wrong_signing_secret_is_named_in_the_log_once_a_minute(bot: SubprocessApp) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    for _ in range(3):
        headers = sign(body, secret="0" * 32)  # the secret of another app
        assert bot.post(body, "application/json", headers=headers).status_code == 401
    wait_for(lambda: "SLACK_SIGNING_SECRET" in bot.output(), what="the warning")
    warnings = [line for line in bot.output().splitlines() if "SLACK_SIGNING_SECRET" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0] and "failed Slack's signature check" in warnings[0]


def test_a_correctly_signed_old_request_blames_the_clock_not_the_secret(bot: SubprocessApp) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    headers = sign(body, timestamp=int(time.time()) - 20 * 60)  # this machine's clock 20 minutes ahead
    assert bot.post(body, "application/json", headers=headers).status_code == 401
    line = wait_for(lambda: [x for x in bot.output().splitlines() if "clock" in x], what="the warning")[0]
    assert "WARNING" in line and "NTP" in line and re.search(r"stamped up to 120\d s", line)
    assert "is wrong (your app" not in bot.output()  # the secret is right: not blamed


def test_logs_are_quiet_and_can_be_json(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db", log_format="json")
    bot = SubprocessApp(env, tmp_path).start()
    try:
        bot.command("fix the flaky login test")
        wait_for(codegen_api.runs, what="the run")
        wait_for(
            lambda: bot.http.get("/healthz").json()["codegen_last_ok_seconds_ago"] is not None, what="a call"
        )
    finally:
        bot.stop()
    records = [json.loads(line) for line in bot.output().splitlines() if line.strip()]
    assert records and all({"asctime", "level", "name", "message"} <= record.keys() for record in records)
    assert any(" started: HTTP mode" in record["message"] for record in records)
    assert not any(record["name"] == "httpx" for record in records)  # its line per request is DEBUG
    assert not any("will be unused" in record["message"] for record in records)
    for secret in (env["SLACK_BOT_TOKEN"], env["CODEGEN_API_TOKEN"], env["SLACK_SIGNING_SECRET"]):
        assert secret not in bot.output()


def test_the_container_healthcheck_follows_healthz(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    """The Dockerfile's HEALTHCHECK command, run as the container runs it (PORT set), against the bot."""
    dockerfile = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text()
    found = re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])\n", dockerfile)
    assert found is not None
    command = json.loads(found.group(1))
    assert command[0] == "python"

    bot = SubprocessApp(bot_env(codegen_api, slack_server, tmp_path / "bot.db"), tmp_path).start()
    try:
        probe = [sys.executable, *command[1:]]
        env = {"PORT": str(bot.port)}
        assert subprocess.run(probe, env=env, timeout=30).returncode == 0
        codegen_api.token = "revoked"
        bot.command("fix the flaky login test")
        unhealthy(bot)
        assert subprocess.run(probe, env=env, timeout=30, capture_output=True).returncode != 0
    finally:
        bot.stop()
