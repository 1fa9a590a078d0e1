"""How Slack reaches the bot: an HTTP endpoint, or a Socket Mode connection. The HTTP endpoint is
served in both modes: in Socket Mode it has /healthz and /metrics only."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import Bot
from bot.http import HttpServer, make_metrics_app, make_wsgi_app
from bot.slack_calls import make_web_client

log = logging.getLogger("codegen_slack")


def http_server(bot: Bot, host: str, port: int) -> HttpServer:
    """The HTTP endpoint, bound to `host`:`port` but not serving yet (`start()` it): POST
    /slack/events in HTTP mode, GET /healthz in both, and GET /metrics unless it has an address of
    its own (CODEGEN_SLACK_METRICS_ADDRESS; see `metrics_server`), only with the bearer token
    CODEGEN_SLACK_METRICS_TOKEN when set. Raises OSError when the port cannot be used (taken, or
    privileged)."""
    settings = bot.settings
    secret = settings.slack_signing_secret
    signing_secret = None if settings.socket_mode or secret is None else secret.get_secret_value()
    metrics = None if settings.metrics_address else bot.metrics.render
    wsgi = make_wsgi_app(
        bot.bolt, bot.health, metrics, signing_secret=signing_secret, metrics_token=_metrics_token(bot)
    )
    return HttpServer(wsgi, host, port)


def metrics_server(bot: Bot) -> HttpServer | None:
    """The small HTTP server of GET /metrics alone at CODEGEN_SLACK_METRICS_ADDRESS (not serving yet),
    or None when that is not set. Raises OSError when the address cannot be used."""
    address = bot.settings.metrics_address
    if address is None:
        return None
    return HttpServer(make_metrics_app(bot.metrics.render, _metrics_token(bot)), *address, threads=2)


def _metrics_token(bot: Bot) -> str | None:
    token = bot.settings.codegen_slack_metrics_token
    return token.get_secret_value() if token else None


def listen_socket_mode(bot: Bot) -> Callable[[], None]:
    """Connect to Slack over Socket Mode with SLACK_APP_TOKEN; returns the function that disconnects.
    Raises SlackApiError when Slack refuses the token, OSError when it cannot be reached."""
    token = bot.settings.slack_app_token
    assert token is not None
    handler = SocketModeHandler(
        bot.bolt, token.get_secret_value(), web_client=make_web_client(None, bot.settings.slack_api_url)
    )
    handler.connect()
    return handler.close
