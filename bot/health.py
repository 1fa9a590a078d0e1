"""What /healthz reports: whether the database takes writes, whether Slack and Codegen accept our
credentials, and how long ago Codegen last answered a call."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError
from bot.jobs import JobKind, Outcome
from storage.job_kinds import PROBE
from storage.records import Job

# Codegen's answers that mean the token or the organization id is wrong, not a passing failure.
REFUSED = {
    "401": "Codegen refused CODEGEN_API_TOKEN (HTTP 401)",
    "403": "Codegen refused this token access to the organization (HTTP 403): check CODEGEN_API_TOKEN "
    "and CODEGEN_ORG_ID",
}


PROBE_SECONDS = 30.0


def probe_kind(codegen: CodegenClient) -> JobKind:
    """The `probe` job kind: one call to Codegen (`GET /v1/users/me`) whose outcome `CodegenHealth`
    notes, so /healthz learns when a refused token works again."""

    def handle(job: Job) -> Outcome | None:
        with suppress(CodegenError):  # noted by CodegenHealth; asked again after PROBE_SECONDS
            codegen.me()
        return None

    return JobKind(PROBE, handle, needs_slack=False)


class CodegenHealth:
    """Follows every Codegen call's outcome (the client's `on_call(limit_class, outcome)`, where the
    outcome is an HTTP status or "unreachable"), passing each on to `then` (metrics)."""

    def __init__(self, clock: Clock, then: Callable[[str, str], None] | None = None) -> None:
        self._clock = clock
        self._then = then
        self.auth_error: str | None = None
        self.last_ok_at: float | None = None  # clock.now() of the last 2xx answer

    def observe(self, limit_class: str, outcome: str) -> None:
        """Note one call's outcome."""
        if outcome in REFUSED:
            self.auth_error = REFUSED[outcome]
        elif outcome.startswith("2"):
            self.auth_error, self.last_ok_at = None, self._clock.now()
        if self._then is not None:
            self._then(limit_class, outcome)

    def seconds_since_ok(self) -> float | None:
        """Seconds since Codegen last answered a call successfully; None before the first."""
        return None if self.last_ok_at is None else round(self._clock.now() - self.last_ok_at, 1)


def health_report(
    database: str, slack_auth_error: str | None, codegen: CodegenHealth
) -> tuple[bool, dict[str, Any]]:
    """(healthy, the JSON body of /healthz): healthy when the database took a write ("ok") and
    neither Slack nor Codegen has refused our credentials since they last accepted them."""
    state: dict[str, Any] = {
        "database": database,
        "slack": slack_auth_error or "ok",
        "codegen": codegen.auth_error or "ok",
    }
    healthy = all(value == "ok" for value in state.values())
    state["codegen_last_ok_seconds_ago"] = codegen.seconds_since_ok()
    return healthy, state
