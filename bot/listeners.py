"""How Slack reaches the bot: an HTTP endpoint, or a Socket Mode connection."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import Bot
from bot.http import HttpServer, make_wsgi_app
from bot.slack_out import make_web_client

log = logging.getLogger("codegen_slack")


def listen_http(bot: Bot, host: str, port: int) -> Callable[[], None]:
    """Serve POST /slack/events, /healthz and /metrics; returns the function that stops it."""
    secret = bot.settings.slack_signing_secret.get_secret_value()
    wsgi = make_wsgi_app(bot.bolt, bot.health, bot.metrics.render, signing_secret=secret)
    server = HttpServer(wsgi, host, port).start()
    log.info("listening on http://%s:%s/slack/events", host, server.port)
    return server.close


def listen_socket_mode(bot: Bot) -> Callable[[], None]:
    """Connect to Slack over Socket Mode with SLACK_APP_TOKEN; returns the function that disconnects."""
    token = bot.settings.slack_app_token
    assert token is not None
    handler = SocketModeHandler(
        bot.bolt, token.get_secret_value(), web_client=make_web_client(None, bot.settings.slack_api_url)
    )
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    return handler.close
