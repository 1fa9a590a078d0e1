"""What the bot says about its settings when they are wrong: where a new user gets each value
(`WHERE_TO_GET`), which values are secret and never shown, and one line per bad setting."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from storage.dialect import describe_database

SLACK_APP_SETTINGS = "your app at api.slack.com/apps"
# Where a new user finds each value; every message about a bad setting ends with its line.
WHERE_TO_GET = {
    "SLACK_BOT_TOKEN": f"{SLACK_APP_SETTINGS} → OAuth & Permissions → Bot User OAuth Token (xoxb-…)",
    "SLACK_SIGNING_SECRET": f"{SLACK_APP_SETTINGS} → Basic Information → App Credentials → Signing Secret "
    "(HTTP mode needs it; Socket Mode does not)",
    "SLACK_APP_TOKEN": f"{SLACK_APP_SETTINGS} → Basic Information → App-Level Tokens, with the "
    "connections:write scope (xapp-…); leave it unset for HTTP mode",
    "SLACK_API_URL": "leave it unset for Slack itself (https://slack.com/api/)",
    "CODEGEN_API_TOKEN": "codegen.com → Settings → API tokens",
    "CODEGEN_ORG_ID": "codegen.com → Settings → your organization's id (a number)",
    "CODEGEN_API_BASE_URL": "leave it unset for Codegen itself (https://api.codegen.com)",
    "CODEGEN_SLACK_DB": "a file path in an existing folder the bot may write to, or a "
    "postgresql://user:password@host:5432/dbname URL of a database the bot may create tables in",
    "CODEGEN_SLACK_ALLOWED_CHANNELS": "channel ids, comma-separated: in Slack, a channel's name → About → "
    "Channel ID (C…)",
    "CODEGEN_SLACK_ALLOWED_USERS": "member ids, comma-separated: in Slack, a person's profile → ⋯ → "
    "Copy member ID (U…)",
    "CODEGEN_SLACK_ADMIN_USERS": "member ids, comma-separated: in Slack, a person's profile → ⋯ → "
    "Copy member ID (U…)",
    "CODEGEN_SLACK_ALLOWED_TEAMS": "Slack Connect team ids, comma-separated (T…), from the partner's "
    "workspace settings or a member's users.info team_id",
    "CODEGEN_SLACK_ALLOW_GUESTS": "true or false",
    "CODEGEN_SLACK_OUTSIDER_CONTEXT": "omit (the default) or quote",
    "CODEGEN_SLACK_REQUIRE_CODEGEN_MEMBER": "true or false (true needs the users:read.email scope)",
    "CODEGEN_SLACK_METRICS_ADDRESS": "host:port for /metrics alone, like 127.0.0.1:9100 (default: on PORT "
    "with /slack/events)",
    "CODEGEN_SLACK_METRICS_TOKEN": "any long random string (e.g. openssl rand -hex 32); Prometheus sends "
    "it as its bearer token",
    "CODEGEN_SLACK_AUDIT_RETENTION_DAYS": "a whole number of days, 1 or more (default 400)",
    "CODEGEN_SLACK_UNFURL_DOMAIN": "a domain in lower case, like codegen.com (the default)",
    "CODEGEN_SLACK_TRIGGER_EMOJI": "an emoji's name as Slack shows it, like robot_face or :robot_face:",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "LOG_FORMAT": "text (the default) or json",
    "PORT": "a free TCP port, 1 to 65535 (default 3000)",
}
SECRET_SETTINGS = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "CODEGEN_API_TOKEN",
        "CODEGEN_SLACK_METRICS_TOKEN",
    }
)


class SettingsError(Exception):
    """Settings are missing or invalid; the message says which and where to get them."""


def describe_errors(exc: ValidationError) -> str:
    """One line per bad setting: the environment variable, what is wrong, and where to get a right value."""
    lines = ["codegen-slack cannot start: its settings are incomplete or wrong."]
    for err in exc.errors():
        lines.append("  " + _describe(err))
    lines.append("Set them in the environment or in a .env file in the working directory (see .env.example).")
    return "\n".join(lines)


def _describe(err: Any) -> str:
    name = str(err["loc"][0]).upper() if err["loc"] else "?"
    if err["type"] == "missing":
        problem = "is not set"
    else:
        message = str(err["msg"]).removeprefix("Value error, ").replace("Input should be", "it should be")
        value = err["input"]
        if name == "CODEGEN_SLACK_DB" and isinstance(value, str):
            value = describe_database(value)  # a PostgreSQL URL may carry a password
        shown = f" ({value!r})" if isinstance(value, str) and name not in SECRET_SETTINGS else ""
        problem = f"is invalid{shown}: {message}"
    hint = WHERE_TO_GET.get(name, "see the Settings table in the README")
    return f"{name} {problem} — {hint}"
