"""`codegen-slack serve | check`: the command-line entry point."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.config import Settings, SettingsError, load_settings
from bot.redact import configure_logging

if TYPE_CHECKING:
    from bot.app import Bot

log = logging.getLogger("codegen_slack")

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="codegen-slack", description="Codegen's coding agents in Slack.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the bot (HTTP mode, or Socket Mode when SLACK_APP_TOKEN is set)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or 3000),
        help="HTTP port (default: $PORT or 3000)",
    )
    serve.add_argument("--host", default="0.0.0.0", help="HTTP interface to listen on (default: all)")
    sub.add_parser("check", help="verify the Slack and Codegen settings for real")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, _secrets(settings))
    if args.command == "check":
        from bot.check import run_checks

        return run_checks(settings)
    return _serve(settings, args.host, args.port)


def _secrets(settings: Settings) -> list[str]:
    values = [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.codegen_api_token,
        settings.slack_app_token,
    ]
    return [v.get_secret_value() for v in values if v is not None]


def _serve(settings: Settings, host: str, port: int) -> int:
    """Run until SIGTERM or SIGINT, then drain the workers and exit."""
    from bot.app import Bot
    from storage.store import StorageError

    try:
        bot = Bot(settings)
    except StorageError as exc:
        print(f"codegen-slack cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    stopping = threading.Event()
    bot.start()
    if settings.slack_app_token is not None:
        stop_listener = _socket_mode(bot, settings)
    else:
        stop_listener = _http(bot, host, port)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s; draining", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stopping.wait()
    stop_listener()
    bot.stop()
    log.info("stopped")
    return 0


def _http(bot: Bot, host: str, port: int) -> Callable[[], None]:
    from bot.http import HttpServer, make_wsgi_app

    server = HttpServer(make_wsgi_app(bot.bolt, bot.health, bot.metrics.render), host, port).start()
    log.info("listening on http://%s:%s/slack/events", host, server.port)
    return server.close


def _socket_mode(bot: object, settings: Settings):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.slack_out import make_web_client

    assert settings.slack_app_token is not None
    handler = SocketModeHandler(
        bot.bolt,
        settings.slack_app_token.get_secret_value(),  # type: ignore[attr-defined]
        web_client=make_web_client(None, settings.slack_api_url),
    )
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    return handler.close


if __name__ == "__main__":
    sys.exit(main())
