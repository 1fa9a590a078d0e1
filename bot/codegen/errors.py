"""Typed errors from the Codegen API, each carrying a message fit to show a Slack user.

`str(exc)` is the user message plus the HTTP status: safe to log, never a token or a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CodegenError(Exception):
    """Base of every error the Codegen client raises."""

    default_message = "Something went wrong talking to Codegen."

    def __init__(self, user_message: str | None = None, *, status_code: int | None = None) -> None:
        self.user_message = user_message or self.default_message
        self.status_code = status_code
        super().__init__(self.user_message)

    def __str__(self) -> str:
        if self.status_code is None:
            return self.user_message
        return f"{self.user_message} (HTTP {self.status_code})"


class PlanLimitReached(CodegenError):
    """402: the organization's plan has no agent runs left."""

    default_message = (
        "Your Codegen plan's agent-run allowance is used up. "
        "Upgrade the plan or wait for it to renew, then try again."
    )


class AccessDenied(CodegenError):
    """403: the token has no access to the organization."""

    default_message = (
        "Codegen refused access to the organization. "
        "Check CODEGEN_API_TOKEN and CODEGEN_ORG_ID in the bot's settings."
    )


class RunNotFound(CodegenError):
    """404 on a run path: the agent run does not exist in this organization."""

    default_message = "Codegen could not find that agent run."


class RepositoryNotFound(CodegenError):
    """404 on create: the organization has no (such) repository."""

    default_message = (
        "Codegen found no repository to work on. Add a repository to the Codegen organization and try again."
    )


class InvalidRequest(CodegenError):
    """422: Codegen rejected the input; `errors` holds the validation details."""

    default_message = "Codegen rejected the request as invalid."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        status_code: int | None = 422,
        errors: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.errors = list(errors)
        super().__init__(user_message or self._describe(self.errors), status_code=status_code)

    @classmethod
    def _describe(cls, errors: Sequence[dict[str, Any]]) -> str:
        """One part per validation error, e.g. `prompt: Field required`."""
        parts = []
        for err in errors:
            loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path")]
            msg = str(err.get("msg", "invalid"))
            parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
        if not parts:
            return cls.default_message
        return "Codegen rejected the request: " + "; ".join(parts)


class RunNotResumable(InvalidRequest):
    """422 on resume: the run is not paused, so it cannot take a prompt right now."""

    default_message = "That agent run is still working and can't take a new message yet."

    @classmethod
    def _describe(cls, errors: Sequence[dict[str, Any]]) -> str:
        return cls.default_message


class RateLimited(CodegenError):
    """429 even after waiting and retrying."""

    default_message = "Codegen is busy (rate limit reached). Please try again in a minute."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        status_code: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(user_message, status_code=status_code)


class CodegenUnavailable(CodegenError):
    """Codegen could not be reached, timed out, or kept failing with 5xx."""

    default_message = "Codegen is not reachable right now. Please try again in a few minutes."
