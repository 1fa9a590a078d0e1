"""Plain records that storage hands to the rest of the app (no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FINISHED_STATUSES = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})
SUCCESS_STATUSES = frozenset({"COMPLETE"})


def is_finished(status: str | None) -> bool:
    """True for a status after which the run does no more work; unknown statuses count as running."""
    return (status or "").upper() in FINISHED_STATUSES


@dataclass(frozen=True)
class PullRequest:
    """A pull request a run opened."""

    title: str
    url: str
    head_branch: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """What the bot knows about one Codegen agent run and the Slack thread it lives in."""

    run_id: int
    channel: str
    thread_ts: str
    requester: str
    prompt: str
    status: str = "ACTIVE"
    repo: str | None = None
    model: str | None = None
    web_url: str | None = None
    result: str | None = None
    summary: str | None = None
    pull_requests: tuple[PullRequest, ...] = ()
    status_ts: str | None = None
    created_at: float = 0.0
    changed_at: float = 0.0
    checked_at: float = 0.0
    finished_at: float | None = None
    shown_status: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the run has stopped working."""
        return is_finished(self.status)


RequestKind = Literal["create", "resume"]
RequestState = Literal["pending", "done", "failed"]


@dataclass(frozen=True)
class Request:
    """A user's intent recorded before Slack is acknowledged: start a run, or resume one."""

    id: int
    key: str
    kind: RequestKind
    channel: str
    thread_ts: str
    user: str
    prompt: str
    options: dict[str, Any] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    run_id: int | None = None
    state: RequestState = "pending"
    attempts: int = 0
    next_attempt_at: float = 0.0
    status_ts: str | None = None
    error: str | None = None
    created_at: float = 0.0
    notice: str | None = None
