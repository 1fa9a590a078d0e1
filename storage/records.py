"""Plain records that storage hands to the rest of the app (no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

FINISHED_STATUSES = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})
SUCCESS_STATUSES = frozenset({"COMPLETE"})


def is_finished(status: str | None) -> bool:
    """True for a status after which the run does no more work; unknown statuses count as running."""
    return (status or "").upper() in FINISHED_STATUSES


@dataclass(frozen=True)
class PullRequest:
    """A pull request a run opened; Codegen may leave out its title, URL and branch (None). `id` is
    Codegen's id of it (what its PR actions need; None for one stored before ids were kept)."""

    title: str | None = None
    url: str | None = None
    head_branch: str | None = None
    id: int | None = None


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
    shown_at: float | None = None  # when the card last showed the run as it is (None: it is behind)
    latest_step: str | None = None
    step_count: int = 0

    @property
    def finished(self) -> bool:
        """Whether the run has stopped working."""
        return is_finished(self.status)


@dataclass(frozen=True)
class AnnouncementState:
    """How many times a run finished, how many of those finishes are in Slack, and whether posting
    the next one had begun (so its parts may partly be in the thread)."""

    finishes: int
    announced: int
    begun: bool


RequestKind = Literal["create", "resume", "steps", "setup"]
# "fetching": the request waits for its Slack images to be downloaded before it is pending.
RequestState = Literal["fetching", "pending", "done", "failed"]


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
    status_ts: str | None = None
    error: str | None = None
    created_at: float = 0.0
    notice: str | None = None


Notify = Literal["thread", "channel", "dm"]
NOTIFY_CHOICES: tuple[Notify, ...] = ("thread", "channel", "dm")


class RequestWithdrawn(Exception):
    """The request no longer waits (it was cancelled before its run was made); `request_id` is its id."""

    def __init__(self, request_id: int) -> None:
        super().__init__(f"request {request_id} was withdrawn")
        self.request_id = request_id


@dataclass(frozen=True)
class ChannelSettings:
    """A channel's defaults: the repository for runs started there, and where finishes are announced."""

    channel: str
    default_repo: str | None = None
    notify: Notify = "thread"


@dataclass(frozen=True)
class UserPrefs:
    """A person's own defaults, set in the App Home."""

    user: str
    dm_on_finish: bool = False
    default_repo: str | None = None
    default_model: str | None = None


@dataclass(frozen=True)
class WatchedRun:
    """A working run as the watcher schedules it: when it is due, since when nothing has changed, and
    how many stored runs are newer (its estimated place in Codegen's newest-first run list)."""

    run_id: int
    next_check_at: float
    quiet_since: float
    depth: int


@dataclass(frozen=True)
class StatusCheck:
    """What one status check saw of a run (None: not seen) and when to check it next."""

    run_id: int
    next_check_at: float
    next_check_if_changed: float | None = None
    status: str | None = None
    result: str | None = None
    summary: str | None = None
    web_url: str | None = None
    pull_requests: tuple[PullRequest, ...] | None = None


class JobStatus(StrEnum):
    """Where a job stands; storage/jobs.py has the table of moves between them."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class Job:
    """One effect the bot owes Slack or Codegen: its kind, what it is about, and how it has gone.

    `run_after` is epoch seconds; `resource` names the rate limit it waits on (e.g. one channel's
    posts), so the runner can pass over jobs whose limit is full and take others.
    """

    id: int
    kind: str
    key: str
    status: JobStatus
    priority: int
    request_id: int | None
    run_id: int | None
    resource: str | None
    payload: dict[str, Any]
    attempts: int
    run_after: float
    last_error: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class PRStatus:
    """What the bot did to one pull request of a run through Codegen, and so knows of it: its `state`
    (`open`, `closed`, `draft`, `ready_for_review`; None: never changed here), whether Codegen was told
    to stop fixing its checks or to leave it altogether, and who last changed it when (epoch seconds)."""

    run_id: int
    pr_id: int
    state: str | None = None
    checks_stopped: bool = False
    removed: bool = False
    changed_by: str | None = None
    changed_at: float | None = None


@dataclass(frozen=True)
class PromptGroup:
    """One prompt sent to several repositories: its `patterns` (repositories or fnmatch patterns, as
    asked), the options every run shares, and its parent message (`status_ts`), what that message
    last showed (`shown`), and its summary (`summary_ts`); `closed` once the summary is posted or the
    prompt was refused."""

    id: int
    key: str
    channel: str
    requester: str
    prompt: str
    patterns: tuple[str, ...]
    options: dict[str, Any]
    created_at: float
    status_ts: str | None = None
    shown: str | None = None
    summary_ts: str | None = None
    closed: bool = False


@dataclass(frozen=True)
class GroupRow:
    """One repository of a prompt group: its create request's state (and error), and its run if made."""

    repo: str
    request_id: int
    request_state: str
    error: str | None = None
    run: RunRecord | None = None
