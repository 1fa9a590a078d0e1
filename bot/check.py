"""`codegen-slack check`: tries everything `serve` needs with the configured settings, for real, and
prints one line per check: ✓ and what works, or ✗ and how to fix it (- for a check that does not
apply). Exit status 0 when nothing failed, 1 otherwise."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.codegen import CodegenClient, CodegenError
from bot.codegen.errors import AccessDenied
from bot.config import Settings
from bot.scopes import BOT_SCOPES, missing_scopes
from bot.settings_errors import WHERE_TO_GET
from bot.slack_calls import make_web_client, unreachable_reason
from storage.database import StorageError
from storage.dialect import describe_database, no_database_at
from storage.probe import probe
from storage.schema import LATEST_VERSION

MARKS = {True: "✓", False: "✗", None: "-"}
SIGNING_SECRET_FORMAT = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Outcome:
    """One check's line: passed (True), failed (False) or not applicable (None)."""

    ok: bool | None
    text: str

    def line(self) -> str:
        return f"{MARKS[self.ok]} {self.text}"


def run_checks(settings: Settings) -> int:
    """Print one line per check; 0 when none failed, 1 otherwise. Unless LOG_LEVEL is DEBUG, the
    clients' own log lines (a retry, a refused connection) are held back below CRITICAL: each line
    printed here says it all."""
    failed = False
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.disable(logging.ERROR)
    try:
        for checks in (_codegen, _slack, _socket_mode, _database, _signing_secret):
            for outcome in checks(settings):
                print(outcome.line(), flush=True)
                failed = failed or outcome.ok is False
    finally:
        logging.disable(logging.NOTSET)
    return 1 if failed else 0


def _fix(name: str) -> str:
    return f"fix {name} ({WHERE_TO_GET[name]})"


def _codegen(settings: Settings) -> Iterator[Outcome]:
    """The token (who it belongs to), then access to the organization (an org-scoped call)."""
    with CodegenClient(
        base_url=settings.codegen_api_base_url,
        token=settings.codegen_api_token.get_secret_value(),
        org_id=settings.codegen_org_id,
        max_attempts=2,
        timeout=settings.codegen_timeout_seconds,
    ) as codegen:
        try:
            me = codegen.me()
        except AccessDenied:
            yield Outcome(False, f"Codegen API token: refused by {settings.codegen_api_base_url} — "
                          + _fix("CODEGEN_API_TOKEN"))
            return
        except CodegenError as exc:
            url = settings.codegen_api_base_url
            yield Outcome(False, f"Codegen API: {exc} (CODEGEN_API_BASE_URL is {url})")
            return
        yield Outcome(True, f"Codegen API token: signed in as {me.email or me.github_username or me.id}")
        org = f"Codegen organization {settings.codegen_org_id}"
        try:
            integrations = codegen.integrations()
        except AccessDenied:
            yield Outcome(False, f"{org}: this token has no access to it — " + _fix("CODEGEN_ORG_ID"))
            return
        except CodegenError as exc:
            yield Outcome(False, f"{org}: {exc} — " + _fix("CODEGEN_ORG_ID"))
            return
        active = sorted(i.integration_type for i in integrations.integrations if i.active)
        yield Outcome(True, f"{org}: reachable (active integrations: {', '.join(active) or 'none'})")


def _slack(settings: Settings) -> Iterator[Outcome]:
    """The bot token (auth.test), then its granted scopes against those the manifest asks for."""
    client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        yield Outcome(False, f"Slack bot token: {exc.response.get('error')} — " + _fix("SLACK_BOT_TOKEN"))
        return
    except OSError as exc:
        yield Outcome(False, f"Slack API: cannot reach {settings.slack_api_url} ({unreachable_reason(exc)})")
        return
    yield Outcome(True, f"Slack bot token: @{auth.get('user')} in workspace {auth.get('team')}")
    headers = {name.lower(): value for name, value in auth.headers.items()}
    missing = missing_scopes(headers.get("x-oauth-scopes"))
    if missing:
        yield Outcome(
            False,
            f"Slack scopes: {', '.join(missing)} not granted — add them under OAuth & Permissions → "
            "Scopes (or paste manifest.yml again), then reinstall the app",
        )
    else:
        yield Outcome(True, f"Slack scopes: all {len(BOT_SCOPES)} that manifest.yml asks for are granted")


def _socket_mode(settings: Settings) -> Iterator[Outcome]:
    """In Socket Mode, the app-level token (apps.connections.open)."""
    if settings.slack_app_token is None:
        yield Outcome(None, "Socket Mode: off (no SLACK_APP_TOKEN); Slack must reach /slack/events by HTTPS")
        return
    client = make_web_client(None, settings.slack_api_url)
    try:
        client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        yield Outcome(False, f"Slack app token: {exc.response.get('error')} — " + _fix("SLACK_APP_TOKEN"))
    except OSError as exc:
        url = settings.slack_api_url
        yield Outcome(False, f"Slack app token: cannot reach {url} ({unreachable_reason(exc)})")
    else:
        yield Outcome(True, "Slack app token: Socket Mode connections are open to it")


def _database(settings: Settings) -> Iterator[Outcome]:
    """Reachable, writable, and of a schema version this code knows; nothing is changed."""
    target, known = settings.codegen_slack_db, LATEST_VERSION
    path = describe_database(target)
    if no_database_at(target):
        yield Outcome(True, f"Database {path}: not created yet; serve creates it (its folder is writable)")
        return
    try:
        version = probe(target)
    except StorageError as exc:
        yield Outcome(False, f"Database {exc} — " + _fix("CODEGEN_SLACK_DB"))
        return
    if version > known:
        yield Outcome(
            False,
            f"Database {path}: schema version {version} is from a newer codegen-slack (this one knows "
            f"up to {known}) — run the newer version, or restore a backup made before the upgrade",
        )
        return
    upgrade = "" if version == known else f"; serve {'creates its tables' if version == 0 else 'upgrades it'}"
    yield Outcome(True, f"Database {path}: reachable and writable, schema version {version}{upgrade}")


def _signing_secret(settings: Settings) -> Iterator[Outcome]:
    """Slack's signing secrets are 32 lowercase hex digits; anything else cannot verify a request."""
    if settings.socket_mode or settings.slack_signing_secret is None:
        yield Outcome(None, "Signing secret: not used in Socket Mode")
    elif SIGNING_SECRET_FORMAT.fullmatch(settings.slack_signing_secret.get_secret_value()):
        yield Outcome(True, "Signing secret: has the form of Slack's (32 hex digits)")
    else:
        problem = "Signing secret: not of the form of Slack's (32 hex digits) — "
        yield Outcome(False, problem + _fix("SLACK_SIGNING_SECRET"))
