"""Settings from the environment and `.env`, validated once at start.

An empty value counts as unset (compose passes `VAR=` for a variable it does not know). A bad value
stops the bot with one message per setting naming the variable, what is wrong with it and where to
get a right one (`SettingsError`, worded by bot.settings_errors).
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Literal
from urllib.parse import urlsplit

import psycopg
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.membership import AccessRules
from bot.settings_errors import SettingsError, describe_errors
from storage.dialect import is_postgresql_url

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{2,}")
ID_KINDS = {  # setting → (what its ids name, their first letters)
    "codegen_slack_allowed_channels": ("channel", "CG"),
    "codegen_slack_allowed_users": ("member", "UW"),
    "codegen_slack_admin_users": ("member", "UW"),
    "codegen_slack_allowed_teams": ("team", "TE"),
}
_NOT_ONE_LINE = "it contains a line break or a space inside; paste it again as one line"
TOKEN_PREFIXES = {"slack_bot_token": "xoxb-", "slack_app_token": "xapp-"}


class DatabaseSettings(BaseSettings):
    """What the commands that only touch the database read (`jobs`, `audit`, `backup`, `migrate-db`):
    the database and how to log."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True
    )

    codegen_slack_db: str = "./codegen-slack.db"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level")
        return value.strip().upper()

    @field_validator("codegen_slack_db")
    @classmethod
    def _database(cls, value: str) -> str:
        problem = database_path_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def secrets(self) -> list[str]:
        """The secret values, for masking in logs: a PostgreSQL URL's password."""
        if not is_postgresql_url(self.codegen_slack_db):
            return []
        password = psycopg.conninfo.conninfo_to_dict(self.codegen_slack_db).get("password")
        return [str(password)] if password else []


class Settings(DatabaseSettings):
    """Every setting the app reads; the README and .env.example document each one."""

    slack_bot_token: SecretStr
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = Field(None, validate_default=True)  # HTTP mode needs it
    slack_api_url: str = "https://slack.com/api/"
    codegen_api_token: SecretStr
    codegen_org_id: int = Field(ge=1)
    codegen_api_base_url: str = "https://api.codegen.com"
    codegen_creates_per_minute: int = Field(10, ge=1)
    codegen_calls_per_30s: int = Field(60, ge=1)
    codegen_log_calls_per_minute: int = Field(60, ge=1)
    codegen_timeout_seconds: float = Field(30.0, gt=0)
    codegen_slack_poll_seconds: float = Field(5.0, gt=0)
    codegen_slack_watcher_share: float = Field(0.8, gt=0, le=1)
    codegen_slack_allowed_channels: str = ""
    codegen_slack_allowed_users: str = ""
    codegen_slack_admin_users: str = ""
    codegen_slack_allowed_teams: str = ""
    codegen_slack_allow_guests: bool = False
    codegen_slack_outsider_context: Literal["omit", "quote"] = "omit"
    codegen_slack_require_codegen_member: bool = False
    codegen_slack_audit_retention_days: int = Field(400, ge=1)
    codegen_slack_metrics_address: str | None = None
    codegen_slack_metrics_token: SecretStr | None = None
    codegen_slack_resume_policy: Literal["anyone", "requester"] = "anyone"
    codegen_slack_runs_per_user_per_hour: int = Field(30, ge=0)
    codegen_slack_max_prompt_chars: int = Field(20_000, ge=100)
    codegen_slack_unfurl_domain: str = Field("codegen.com", pattern=r"^[a-z0-9][-a-z0-9.]*[a-z0-9]$")
    codegen_slack_watch_runs_per_hour: int = Field(5, ge=1)
    codegen_slack_trigger_emoji: str = ""
    codegen_slack_max_repos_per_prompt: int = Field(20, ge=1, le=100)
    port: int = Field(3000, ge=1, le=65535)

    @field_validator(
        "slack_bot_token", "slack_signing_secret", "slack_app_token", "codegen_api_token", mode="before"
    )
    @classmethod
    def _token(cls, value: object, info: ValidationInfo) -> object:
        """A token pasted with a trailing newline or spaces still works; one broken across lines,
        or of the wrong kind, does not."""
        if not isinstance(value, str):
            return value
        value = value.strip()
        if any(ch.isspace() for ch in value):
            raise ValueError(_NOT_ONE_LINE)
        prefix = TOKEN_PREFIXES.get(str(info.field_name))
        if prefix and not value.startswith((prefix, f"xoxe.{prefix}")):  # xoxe.: a rotating token
            raise ValueError(f"it should start with {prefix}")
        return value

    @field_validator("slack_api_url", "codegen_api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not a URL; it needs a scheme and a host, like https://host/")
        return value.strip()

    @field_validator(*ID_KINDS)
    @classmethod
    def _slack_ids(cls, value: str, info: ValidationInfo) -> str:
        """Ids, not names: `#general` or `@alice` would silently match nothing."""
        kind, initials = ID_KINDS[str(info.field_name)]
        bad = sorted(part for part in _ids(value) if not SLACK_ID.fullmatch(part) or part[0] not in initials)
        if bad:
            raise ValueError(f"{', '.join(bad)}: not Slack {kind} ids ({' or '.join(initials)} and capitals)")
        return value

    @field_validator("codegen_slack_metrics_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        """host:port, the port a number from 1 to 65535."""
        if value is None:
            return None
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not host:port (like 127.0.0.1:9100)")
        return value.strip()

    @field_validator("codegen_slack_metrics_token", mode="before")
    @classmethod
    def _metrics_token(cls, value: object) -> object:
        if isinstance(value, str) and (not value.strip() or any(ch.isspace() for ch in value.strip())):
            raise ValueError(_NOT_ONE_LINE)
        return value.strip() if isinstance(value, str) else value

    @field_validator("codegen_slack_trigger_emoji")
    @classmethod
    def _emoji(cls, value: str) -> str:
        """An emoji's name as Slack sends it in reaction events: `:rocket:` and `rocket` alike."""
        name = value.strip().strip(":")
        if name and not re.fullmatch(r"[a-z0-9_+'-]+", name):
            raise ValueError(f"{value!r} is not an emoji name; write it as in Slack, like rocket or :rocket:")
        return name

    @field_validator("slack_signing_secret")
    @classmethod
    def _http_mode_needs_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """HTTP mode checks Slack's signatures; Socket Mode has no requests to check."""
        if value is None and info.data.get("slack_app_token") is None:
            raise PydanticCustomError("missing", "Field required")
        return value

    @property
    def socket_mode(self) -> bool:
        """Whether Slack is reached over Socket Mode (SLACK_APP_TOKEN set) rather than HTTP."""
        return self.slack_app_token is not None

    @property
    def allowed_channels(self) -> frozenset[str]:
        """Channel ids where the bot works; empty means everywhere it is invited."""
        return _ids(self.codegen_slack_allowed_channels)

    @property
    def allowed_users(self) -> frozenset[str]:
        """User ids who may use the bot; empty means everyone in the workspace."""
        return _ids(self.codegen_slack_allowed_users)

    @property
    def admin_users(self) -> frozenset[str]:
        """User ids who may change channel settings; empty means anyone allowed to use the bot."""
        return _ids(self.codegen_slack_admin_users)

    @property
    def access_rules(self) -> AccessRules:
        """Who beyond the workspace's full members may use the bot: guests, members of allowed teams."""
        return AccessRules(
            allow_guests=self.codegen_slack_allow_guests, allowed_teams=_ids(self.codegen_slack_allowed_teams)
        )

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """Where /metrics is served alone (host, port), or None: next to /slack/events."""
        if not self.codegen_slack_metrics_address:
            return None
        host, _, port = self.codegen_slack_metrics_address.rpartition(":")
        return host.strip("[]"), int(port)

    def secrets(self) -> list[str]:
        """The secret values, for masking in logs."""
        tokens = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token)
        tokens += (self.codegen_slack_metrics_token,)
        values = [self.codegen_api_token.get_secret_value()] + [t.get_secret_value() for t in tokens if t]
        return values + super().secrets()


def database_path_problem(path: str) -> str | None:
    """Why the bot could not keep its database at `path` (None when it can): a PostgreSQL URL that
    cannot be parsed (whether the server answers is `codegen-slack check`'s job); for SQLite, the folder is
    missing, not a folder, or not writable (SQLite writes its -wal and -shm files next to the
    database), or the file exists but cannot be written. Tried for real, not from permission bits."""
    if path == ":memory:":
        return None
    if is_postgresql_url(path):
        try:
            psycopg.conninfo.conninfo_to_dict(path)
        except psycopg.ProgrammingError:
            return "this PostgreSQL URL cannot be read; the form is postgresql://user:password@host:5432/dbname"
        return None
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", path)
    if scheme:
        return (
            f"{scheme.group(1)}:// databases are not supported; give a SQLite file path or a"
            " postgresql://user:password@host:5432/dbname URL"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"the folder {folder} does not exist; create it or choose another path"
    if os.path.isdir(path):
        return f"{path} is a folder; give the path of a file in it"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        if os.path.exists(path):
            with open(path, "r+b"):
                pass
    except OSError as exc:
        return f"the bot cannot write to {path if os.path.exists(path) else folder} ({exc.strerror})"
    return None


def _ids(value: str) -> frozenset[str]:
    """Split a comma- or space-separated list of Slack ids."""
    return frozenset(part for part in value.replace(",", " ").split() if part)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's errors into one readable message (SettingsError)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


def load_database_settings() -> DatabaseSettings:
    """Read only what the database commands need, as `load_settings` does (SettingsError)."""
    try:
        return DatabaseSettings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None
