"""Secrets never leave the bot: not in its output (at DEBUG level, through failures and timeouts), not
in what it posts to Slack, not in what it sends to Codegen (only in the Authorization header, where
they belong); and its database is readable by its owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.render.results import RESULT_EVENT
from tests.harness import wait_for
from tests.servers.codegen_fixtures import make_codegen_server
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_fixtures import GENERAL, start_slack_server
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import SubprocessApp, bot_env, run_cli

BOT_TOKEN = "xoxb-1111-secret-bot-token-a1b2c3"
APP_TOKEN = "xapp-1-secret-app-token-d4e5f6"
SIGNING_SECRET = "secret-signing-7a8b9c0d1e2f"
CODEGEN_TOKEN = "cg-secret-api-token-0f9e8d"
WRONG_BOT_TOKEN = "xoxb-2222-wrong-bot-token-b2c3d4"
WRONG_CODEGEN_TOKEN = "cg-wrong-api-token-1e2d3c"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, CODEGEN_TOKEN, WRONG_BOT_TOKEN, WRONG_CODEGEN_TOKEN)


@pytest.fixture
def seen() -> list[str]:
    """Everything the test servers received (but Authorization headers) and the bot printed."""
    return []


@pytest.fixture
def codegen(seen: list[str]) -> Iterator[CodegenServer]:
    server = make_codegen_server(clock=SystemClock(), token=CODEGEN_TOKEN)
    route = server._route  # every request passes here first; keep its method, path, query and body

    def recording_route(request):  # type: ignore[no-untyped-def]
        seen.append(f"codegen: {request.method} {request.path}?{request.query} {request.body.decode()}")
        return route(request)

    server._route = recording_route  # type: ignore[method-assign]
    yield server
    server.stop()


@pytest.fixture
def slack(seen: list[str]) -> Iterator[SlackServer]:
    server = start_slack_server()
    server.bot_token, server.app_token = BOT_TOKEN, APP_TOKEN
    handle = server._handle_api  # every Web API call passes here with its raw query, headers and body

    def recording_handle(method, query, headers, body):  # type: ignore[no-untyped-def]
        shown = {k: v for k, v in headers.items() if k != "authorization"}
        seen.append(f"slack: {method}?{query} {shown} {body.decode(errors='replace')}")
        return handle(method, query, headers, body)

    server._handle_api = recording_handle  # type: ignore[method-assign]
    yield server
    server.close()


def env_for(codegen: CodegenServer, slack: SlackServer, where: Path, **overrides: object) -> dict[str, str]:
    """The bot's settings with the secrets above, logging at DEBUG, working in `where`."""
    where.mkdir(exist_ok=True)
    return bot_env(
        codegen,
        slack,
        where / "bot.db",
        slack_signing_secret=SIGNING_SECRET,
        log_level="DEBUG",
        codegen_timeout_seconds=1,
        **overrides,
    )


def assert_no_secret(printed: list[str], seen: list[str]) -> None:
    for secret in SECRETS:
        leaks = [text for text in [*printed, *seen] if secret in text]
        assert not leaks, f"{secret} leaked: {leaks[0][:300]}"


def test_working_bot_meeting_failures_leaks_no_secret(
    codegen: CodegenServer, slack: SlackServer, seen: list[str], tmp_path: Path
) -> None:
    bot = SubprocessApp(env_for(codegen, slack, tmp_path), tmp_path)
    bot.start()
    modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in tmp_path.glob("bot.db*")}
    assert modes.get("bot.db") == 0o600 and set(modes.values()) == {0o600}, modes
    codegen.fail_next(1, 500, path="create_run")  # a server error, then
    codegen.delay_next(1, 1.5, path="create_run")  # made, but answered after the 1 s timeout
    slack.fail_next("chat.update", "invalid_auth")
    assert bot.command("fix the login test").status_code == 200
    run_id = wait_for(codegen.runs, what="the run")[0]["id"]
    thread_ts = codegen.run(run_id)["metadata"]["slack_thread_ts"]
    codegen.set_status(run_id, "COMPLETE", result="Fixed.")
    wait_for(lambda: payloads_in(slack, thread_ts, RESULT_EVENT), timeout=15, what="the result")
    codegen.fail_next(1, 403, path="resume_run")  # the follow-up is refused
    reply_ts = slack.post_as_user(GENERAL, "U0BOB", "also add a test", thread_ts=thread_ts)
    reply = {"type": "message", "channel": GENERAL, "channel_type": "channel", "user": "U0BOB",
             "text": "also add a test", "ts": reply_ts, "thread_ts": thread_ts}  # fmt: skip
    assert bot.event(reply).status_code == 200
    wait_for(lambda: slack.ephemerals(GENERAL), timeout=15, what="the follow-up refusal")
    assert bot.post(b"token=x", "application/x-www-form-urlencoded", headers={}).status_code == 401
    assert bot.post(b"{not json", "application/json").status_code == 400
    assert bot.terminate() == 0
    output = bot.output()
    assert "invalid_auth" in output and "ReadTimeout" in output  # the failures were met and logged
    assert_no_secret([output], seen)


def test_wrong_tokens_leak_no_secret(
    codegen: CodegenServer, slack: SlackServer, seen: list[str], tmp_path: Path
) -> None:
    wrong_codegen, wrong_slack = (
        SubprocessApp(env_for(codegen, slack, tmp_path / name, **{setting: value}), tmp_path / name).spawn()
        for name, setting, value in (
            ("codegen", "codegen_api_token", WRONG_CODEGEN_TOKEN),
            ("slack", "slack_bot_token", WRONG_BOT_TOKEN),
        )
    )
    wrong_codegen.wait_ready().command("this cannot start")
    wrong_slack.wait_ready().command("nobody will see this")
    wait_for(lambda: any("Couldn't start" in str(m) for m in slack.messages(GENERAL)), what="Codegen's 403")
    wait_for(lambda: "invalid_auth" in wrong_slack.output(), what="Slack to refuse the token")
    assert wrong_codegen.terminate() == 0 and wrong_slack.terminate() == 0
    assert_no_secret([wrong_codegen.output(), wrong_slack.output()], seen)


def test_check_and_bad_settings_leak_no_secret(
    codegen: CodegenServer, slack: SlackServer, seen: list[str], tmp_path: Path
) -> None:
    wrong = env_for(
        codegen,
        slack,
        tmp_path,
        slack_bot_token=WRONG_BOT_TOKEN,
        codegen_api_token=WRONG_CODEGEN_TOKEN,
        slack_app_token=APP_TOKEN,
    )
    # Pasted with a line break: settings trim it, so the tokens work and appear in no debug line.
    pasted = {**wrong, "CODEGEN_API_TOKEN": f"{CODEGEN_TOKEN}\n", "SLACK_BOT_TOKEN": f"{BOT_TOKEN}\n"}
    commands = [
        (["check"], wrong),
        (["check"], {**pasted, "LOG_LEVEL": "DEBUG"}),
        (["serve"], {**wrong, "CODEGEN_ORG_ID": "seven"}),
    ]
    with ThreadPoolExecutor(len(commands)) as pool:
        check, check_pasted, setting = pool.map(lambda c: run_cli(c[0], c[1], tmp_path), commands)
    assert check.returncode == 1 and check.stdout.count("✗") == 2
    assert check_pasted.returncode == 0 and "DEBUG" in check_pasted.stderr
    assert setting.returncode == 2 and "CODEGEN_ORG_ID" in setting.stderr
    runs = (check, check_pasted, setting)
    assert_no_secret([text for run in runs for text in (run.stdout, run.stderr)], seen)


def payloads_in(slack: SlackServer, thread_ts: str, event_type: str) -> list[dict]:
    messages = slack.messages(GENERAL, thread_ts=thread_ts)
    return [
        m["metadata"]["event_payload"]
        for m in messages
        if (m["metadata"] or {}).get("event_type") == event_type
    ]
