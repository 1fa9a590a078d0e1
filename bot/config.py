"""Settings from the environment and `.env`, validated once at start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where a new user finds each required value; used to explain a missing setting.
WHERE_TO_GET = {
    "SLACK_BOT_TOKEN": "Slack app settings → OAuth & Permissions → Bot User OAuth Token (xoxb-…)",
    "SLACK_SIGNING_SECRET": "Slack app settings → Basic Information → App Credentials → Signing Secret",
    "CODEGEN_API_TOKEN": "codegen.com → Settings → API tokens",
    "CODEGEN_ORG_ID": "codegen.com → Settings → your organization's id (a number)",
}


class Settings(BaseSettings):
    """Every setting the app reads; the README documents each one."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    codegen_api_token: SecretStr
    codegen_org_id: int
    codegen_api_base_url: str = "https://api.codegen.com"
    codegen_slack_db: str = "./codegen-slack.db"
    codegen_creates_per_minute: int = Field(10, ge=1)
    codegen_calls_per_30s: int = Field(60, ge=1)
    codegen_log_calls_per_minute: int = Field(60, ge=1)
    codegen_timeout_seconds: float = Field(30.0, gt=0)
    codegen_slack_poll_seconds: float = Field(5.0, gt=0)
    codegen_slack_watcher_share: float = Field(0.8, gt=0, le=1)
    codegen_slack_allowed_channels: str = ""
    codegen_slack_allowed_users: str = ""
    codegen_slack_admin_users: str = ""
    codegen_slack_resume_policy: Literal["anyone", "requester"] = "anyone"
    codegen_slack_runs_per_user_per_hour: int = Field(30, ge=0)
    codegen_slack_max_prompt_chars: int = Field(20_000, ge=100)
    log_level: str = "INFO"

    @field_validator(
        "slack_bot_token", "slack_signing_secret", "slack_app_token", "codegen_api_token", mode="before"
    )
    @classmethod
    def _strip(cls, value: object) -> object:
        """A token pasted with a trailing newline or spaces still works."""
        return value.strip() if isinstance(value, str) else value

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


def _ids(value: str) -> frozenset[str]:
    """Split a comma- or space-separated list of Slack ids."""
    return frozenset(part for part in value.replace(",", " ").split() if part)


class SettingsError(Exception):
    """Settings are missing or invalid; the message says which and where to get them."""


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's errors into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    """One line per bad setting, naming the environment variable and where to find its value."""
    lines = ["codegen-slack cannot start: its settings are incomplete."]
    for err in exc.errors():
        name = str(err["loc"][0]).upper() if err["loc"] else "?"
        if err["type"] == "missing":
            hint = WHERE_TO_GET.get(name, "")
            lines.append(f"  {name} is not set" + (f" (get it from: {hint})" if hint else ""))
        else:
            lines.append(f"  {name} is invalid: {err['msg']}")
    lines.append("Set them in the environment or in a .env file in the working directory.")
    return "\n".join(lines)
