"""Socket Mode: the same bot, reached over a WebSocket that speaks Slack's envelope protocol."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import Bot
from bot.listeners import listen_socket_mode
from tests.harness import make_settings, sign, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.servers.socket_mode_server import SocketModeServer
from tests.subprocess_app import SubprocessApp, bot_env, free_port, run_cli

GENERAL, ALICE = "C0GENERAL", "U0ALICE"


@pytest.fixture
def socket_bot(
    codegen_api: CodegenServer,
    slack_server: SlackServer,
    socket_mode_server: SocketModeServer,
    tmp_path: Path,
) -> Iterator[Bot]:
    settings = make_settings(
        codegen_api, slack_server, tmp_path / "bot.db", slack_app_token=slack_server.app_token
    )
    bot = Bot(settings)
    bot.start()
    close = listen_socket_mode(bot)
    socket_mode_server.wait_for_connections(1)
    yield bot
    close()
    bot.stop()


def command_payload(text: str, trigger: str) -> dict:
    return {
        "command": "/codegen",
        "text": text,
        "user_id": ALICE,
        "channel_id": GENERAL,
        "team_id": "T1",
        "trigger_id": trigger,
        "response_url": "",
        "api_app_id": "A0APP",
    }


def test_slash_command_over_socket_mode_starts_one_run(
    socket_bot: Bot,
    socket_mode_server: SocketModeServer,
    codegen_api: CodegenServer,
    slack_server: SlackServer,
) -> None:
    envelope = socket_mode_server.send("slash_commands", command_payload("tidy the README", "trig-1"))
    socket_mode_server.wait_for_ack(envelope)
    run = wait_for(codegen_api.runs, what="the run")[0]
    assert codegen_api.run_inputs(run["id"])["prompt"] == "tidy the README"
    wait_for(lambda: slack_server.messages(GENERAL), what="the status message")


def test_redelivered_envelope_is_one_run(
    socket_bot: Bot,
    socket_mode_server: SocketModeServer,
    codegen_api: CodegenServer,
    slack_server: SlackServer,
) -> None:
    ts = slack_server.post_as_user(GENERAL, ALICE, "<@UBOT> rename the config flag")
    event = {
        "type": "app_mention",
        "channel": GENERAL,
        "user": ALICE,
        "text": "<@UBOT> rename the config flag",
        "ts": ts,
    }
    body = {
        "type": "event_callback",
        "event_id": "EvSOCK1",
        "event": event,
        "team_id": "T1",
        "api_app_id": "A0APP",
    }
    first = socket_mode_server.send("events_api", body)
    socket_mode_server.wait_for_ack(first)
    again = socket_mode_server.send("events_api", body, retry_attempt=1, retry_reason="timeout")
    socket_mode_server.wait_for_ack(again)
    wait_for(codegen_api.runs, what="the run")
    wait_for(lambda: socket_bot.store.get_run(codegen_api.runs()[0]["id"]), what="run stored")
    assert len(codegen_api.runs()) == 1


def test_help_is_answered_in_the_ack(socket_bot: Bot, socket_mode_server: SocketModeServer) -> None:
    envelope = socket_mode_server.send(
        "slash_commands", command_payload("help", "trig-2"), accepts_response_payload=True
    )
    ack = socket_mode_server.wait_for_ack(envelope)
    assert "/codegen status" in ack["payload"]["text"]


def test_serve_in_socket_mode_answers_health_and_metrics_on_port(
    codegen_api: CodegenServer,
    slack_server: SlackServer,
    socket_mode_server: SocketModeServer,
    tmp_path: Path,
) -> None:
    """`serve` with SLACK_APP_TOKEN and no signing secret: Slack's requests come over the socket,
    /healthz and /metrics are still on PORT, and there is no /slack/events to attack."""
    env = bot_env(
        codegen_api,
        slack_server,
        tmp_path / "bot.db",
        slack_app_token=slack_server.app_token,
        slack_signing_secret="",
    )
    bot = SubprocessApp(env, tmp_path).start()
    try:
        socket_mode_server.wait_for_connections(1, timeout=20)
        assert bot.http.get("/healthz").json()["ok"] is True
        assert b"codegen_slack_runs" in bot.http.get("/metrics").content
        signed = sign(b"command=%2Fcodegen&text=tidy")  # even correctly signed
        assert (
            bot.post(b"command=%2Fcodegen&text=tidy", "application/x-www-form-urlencoded", signed).status_code
            == 404
        )
        envelope = socket_mode_server.send("slash_commands", command_payload("tidy the README", "trig-9"))
        socket_mode_server.wait_for_ack(envelope)
        wait_for(codegen_api.runs, what="the run")
    finally:
        bot.stop()
    assert "started: Socket Mode" in bot.output() and "(/healthz, /metrics)" in bot.output()


def test_serve_with_a_refused_app_token_says_so(
    codegen_api: CodegenServer, slack_server: SlackServer, tmp_path: Path
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db", slack_app_token="xapp-1-revoked")
    result = run_cli(["serve", "--host", "127.0.0.1", "--port", str(free_port())], env, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in result.stderr
