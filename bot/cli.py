"""`codegen-slack serve | check | jobs`: the command-line entry point."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from bot import jobs_cli
from bot.config import Settings, SettingsError, load_settings
from bot.redact import configure_logging

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
    jobs_cli.add_parser(sub)
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
    if args.command == "jobs":
        return jobs_cli.run(args, settings.codegen_slack_db)
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
    from bot.listeners import listen_http, listen_socket_mode
    from storage.store import StorageError

    try:
        bot = Bot(settings)
    except StorageError as exc:
        print(f"codegen-slack cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s; draining", signal.Signals(signum).name)
        stopping.set()

    # Before anything starts, so a SIGTERM right after the endpoint answers still drains.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bot.start()
    if settings.slack_app_token is not None:
        stop_listener = listen_socket_mode(bot)
    else:
        stop_listener = listen_http(bot, host, port)
    stopping.wait()
    stop_listener()
    bot.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
