"""How Slack reaches the bot: an HTTP endpoint, or a Socket Mode connection. The HTTP endpoint is
served in both modes: in Socket Mode it has /healthz and /metrics only."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import Bot
from bot.http import HttpServer, make_wsgi_app
from bot.slack_out import make_web_client

log = logging.getLogger("codegen_slack")


def http_server(bot: Bot, host: str, port: int) -> HttpServer:
    """The HTTP endpoint, bound to `host`:`port` but not serving yet (`start()` it): POST
    /slack/events in HTTP mode, GET /healthz and GET /metrics in both. Raises OSError when the
    port cannot be used (taken, or privileged)."""
    secret = bot.settings.slack_signing_secret
    signing_secret = None if bot.settings.socket_mode or secret is None else secret.get_secret_value()
    wsgi = make_wsgi_app(bot.bolt, bot.health, bot.metrics.render, signing_secret=signing_secret)
    return HttpServer(wsgi, host, port)


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
