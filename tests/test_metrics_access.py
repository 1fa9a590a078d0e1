"""/metrics need not be public next to /slack/events: it can be served alone at another address
(CODEGEN_SLACK_METRICS_ADDRESS) or only to a bearer token (CODEGEN_SLACK_METRICS_TOKEN), or both."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.config import load_settings
from bot.settings_errors import SettingsError
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import SubprocessApp, bot_env, free_port

TOKEN = "9c1f0e2d7b3a4c5e6f708192a3b4c5d6"
METRICS = "codegen_slack_runs"


def test_a_metrics_token_is_needed_to_read_metrics(make_app) -> None:
    app = make_app(codegen_slack_metrics_token=TOKEN)
    bare = app.http.get("/metrics")
    assert bare.status_code == 401 and METRICS not in bare.text
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    assert "CODEGEN_SLACK_METRICS_TOKEN" in bare.json()["error"] and TOKEN not in bare.text
    assert app.http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert app.http.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401  # not a bearer
    allowed = app.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200 and METRICS in allowed.text
    assert app.http.get("/healthz").status_code == 200  # health checks need no token


def test_without_settings_metrics_stay_next_to_the_events_endpoint(app) -> None:
    assert METRICS in app.http.get("/metrics").text
    assert app.metrics_server is None


def test_metrics_at_their_own_address_are_not_served_next_to_slack_events(make_app) -> None:
    port = free_port()
    app = make_app(codegen_slack_metrics_address=f"127.0.0.1:{port}", codegen_slack_metrics_token=TOKEN)
    assert app.http.get("/metrics").status_code == 404
    assert app.http.get("/healthz").status_code == 200
    own = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{own}/metrics", timeout=5).status_code == 401
    answer = httpx.get(f"{own}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert answer.status_code == 200 and METRICS in answer.text
    assert httpx.get(f"{own}/healthz", timeout=5).status_code == 404  # only /metrics there
    assert httpx.post(f"{own}/slack/events", content=b"{}", timeout=5).status_code == 404


def test_serve_listens_for_metrics_at_their_address_and_says_where(
    codegen_api: CodegenServer, slack_server: SlackServer, tmp_path: Path
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db", codegen_slack_metrics_address=address)
    bot = SubprocessApp(env, tmp_path).start()
    try:
        assert METRICS in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert bot.http.get("/metrics").status_code == 404
        assert bot.terminate() == 0
        assert f"/metrics on http://127.0.0.1:{port}" in bot.output()
    finally:
        bot.stop()


@pytest.mark.parametrize("value", ["9100", "localhost", "host:99999", ":9100"])
def test_a_metrics_address_that_is_not_host_and_port_is_named(value: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"CODEGEN_SLACK_METRICS_ADDRESS is invalid.*host:port"):
        load_settings(
            _env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s", codegen_api_token="t",
            codegen_org_id=1, codegen_slack_db=str(tmp_path / "bot.db"), codegen_slack_metrics_address=value,
        )  # fmt: skip
