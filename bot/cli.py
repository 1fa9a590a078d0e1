"""`codegen-slack serve | check | backup PATH | jobs [retry ID] | audit | migrate-db --to URL`: the
command-line entry point.

Exit status 0 on success, 1 when `check` finds a problem or a backup fails, 2 for a setting that
stops the bot from starting (named, with where to get a right value; never a traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot import audit_cli, jobs_cli, migrate_cli
from bot.codegen import CodegenError
from bot.codegen.errors import AccessDenied
from bot.config import Settings, load_database_settings, load_settings
from bot.redact import configure_logging
from bot.settings_errors import WHERE_TO_GET, SettingsError
from bot.slack_calls import unreachable_reason
from storage.dialect import describe_database, is_postgresql_url

if TYPE_CHECKING:
    from bot.app import Bot
    from bot.http import HttpServer

log = logging.getLogger("codegen_slack")

EXIT_CONFIG = 2
DATABASE_COMMANDS = frozenset({"jobs", "audit", "backup", "migrate-db"})  # need no Slack or Codegen token
MAX_PORT = 65535


def app_version() -> str:
    """The installed package's version ("unknown" when run from a source tree that is not installed)."""
    try:
        return version("codegen-slack")
    except PackageNotFoundError:
        return "unknown"


def _port(text: str) -> int:
    """`--port`'s value: a TCP port number, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to {MAX_PORT})")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codegen-slack", description="Codegen's coding agents in Slack.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {app_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the bot (HTTP mode, or Socket Mode when SLACK_APP_TOKEN is set)"
    )
    serve.add_argument("--port", type=_port, help="HTTP port (default: the PORT setting, or 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP interface to listen on (default: all)")
    sub.add_parser("check", help="verify every setting `serve` needs, for real")
    backup = sub.add_parser("backup", help="copy the database, consistently, while the bot runs")
    backup.add_argument("path", help="the new file to write the copy to")
    jobs_cli.add_parser(sub)
    migrate_cli.add_parser(sub)
    audit_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the exit status (130 for Ctrl-C before
    `serve` listens for it)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("codegen-slack: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_database_settings() if args.command in DATABASE_COMMANDS else load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.secrets(), settings.log_format)
    if isinstance(settings, Settings) and args.command == "check":
        from bot.check import run_checks

        return run_checks(settings)
    if args.command == "jobs":
        return jobs_cli.run(args, settings.codegen_slack_db)
    if args.command == "migrate-db":
        return migrate_cli.run(args, settings.codegen_slack_db)
    if args.command == "audit":
        return audit_cli.run(args, settings.codegen_slack_db)
    if args.command == "backup":
        from bot.backup import backup

        done, line = backup(settings.codegen_slack_db, args.path)
        print(line, file=sys.stdout if done else sys.stderr)
        return 0 if done else 1
    assert isinstance(settings, Settings)
    return _serve(settings, args.host, args.port or settings.port)


def _fail(message: str) -> int:
    print(f"codegen-slack cannot start: {message}", file=sys.stderr)
    return EXIT_CONFIG


def _serve(settings: Settings, host: str, port: int) -> int:
    """Run until SIGTERM or SIGINT, then drain the workers and exit."""
    from bot.app import Bot
    from bot.listeners import http_server, listen_socket_mode, metrics_server
    from storage.file_lock import AnotherProcess
    from storage.store import StorageError

    try:
        bot = Bot(settings)
    except StorageError as exc:
        if exc.unreachable:  # not a settings error: systemd and compose restart it (exit status 1)
            print(f"codegen-slack cannot start now: CODEGEN_SLACK_DB: {exc}", file=sys.stderr)
            return 1
        return _fail(f"CODEGEN_SLACK_DB: {exc}")
    try:
        bot.hold_database()
    except AnotherProcess as exc:
        bot.store.close()
        return _fail(f"CODEGEN_SLACK_DB: {exc}")
    try:
        server = http_server(bot, host, port)
    except (OSError, ValueError) as exc:  # ValueError: waitress, for a host it cannot resolve
        bot.store.close()
        reason = getattr(exc, "strerror", None) or exc
        return _fail(
            f"PORT {port} on {host} cannot be used ({reason}) — {WHERE_TO_GET['PORT']},"
            " set with PORT or --port"
        )
    try:
        metrics = metrics_server(bot)
    except (OSError, ValueError) as exc:
        server.close()
        bot.store.close()
        address = f"CODEGEN_SLACK_METRICS_ADDRESS {settings.codegen_slack_metrics_address}"
        return _fail(f"{address} cannot be used ({getattr(exc, 'strerror', None) or exc})")
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s; draining", signal.Signals(signum).name)
        stopping.set()

    # Before anything starts, so a SIGTERM right after the endpoint answers still drains.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bot.start()
    server.start()
    if metrics is not None:
        metrics.start()
    stop_socket = None
    if settings.socket_mode:
        try:
            stop_socket = listen_socket_mode(bot)
        except (SlackApiError, OSError) as exc:
            _close(server, metrics)
            bot.stop()
            if isinstance(exc, OSError):
                return _fail(f"Slack cannot be reached at {settings.slack_api_url} ({type(exc).__name__})")
            reason = exc.response.get("error")
            return _fail(f"Slack refused SLACK_APP_TOKEN ({reason}) — {WHERE_TO_GET['SLACK_APP_TOKEN']}")
    log.info("%s", startup_line(settings, host, server.port))
    threading.Thread(target=_try_credentials, args=(bot,), name="credentials", daemon=True).start()
    stopping.wait()
    if stop_socket is not None:
        stop_socket()
    _close(server, metrics)
    bot.stop()
    log.info("stopped")
    return 0


def _close(*servers: HttpServer | None) -> None:
    for server in servers:
        if server is not None:
            server.close()


def _try_credentials(bot: Bot) -> None:
    """One call to Slack and one to Codegen at start, so /healthz knows at once whether they accept
    the bot's tokens (rather than at the first request, which a refused token would lose)."""
    try:
        bot.slack.auth_test()
    except SlackApiError as exc:
        log.warning("Slack answered auth.test at start with %s", exc.response.get("error"))
    except OSError as exc:
        log.warning("Slack could not be reached at start (%s)", unreachable_reason(exc))
    try:
        bot.codegen.me()
    except AccessDenied as exc:
        log.warning("Codegen did not accept the API token at start: %s", exc)
    except CodegenError as exc:
        log.warning("Codegen could not be asked at start whether it accepts the API token: %s", exc)


def startup_line(settings: Settings, host: str, port: int) -> str:
    """What an operator wants to see once at start: version, mode, database, Codegen org, address."""
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    routes = [] if settings.socket_mode else ["/slack/events"]
    routes += ["/healthz"] if settings.metrics_address else ["/healthz", "/metrics"]
    metrics = settings.codegen_slack_metrics_address
    protected = " with its bearer token" if settings.codegen_slack_metrics_token else ""
    elsewhere = f", /metrics{protected} on http://{metrics}" if metrics else ""
    target = settings.codegen_slack_db
    database = describe_database(target) if is_postgresql_url(target) else os.path.abspath(target)
    return (
        f"codegen-slack {app_version()} started: {mode}, database {database}, "
        f"Codegen org {settings.codegen_org_id} at {settings.codegen_api_base_url}, "
        f"listening on http://{host}:{port} ({', '.join(routes)}){elsewhere}"
        + ("" if metrics or not protected else f"; /metrics{protected}")
    )


if __name__ == "__main__":
    sys.exit(main())
