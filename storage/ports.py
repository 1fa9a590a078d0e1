"""What each part of the bot may ask of storage: one protocol per worker, naming only the operations
it uses (`storage.store.Store` provides them all). A worker that needs something new says so here."""

from __future__ import annotations

from typing import Any, Protocol

from storage.agent_controls import RunControls, SessionShown
from storage.records import (
    AnnouncementState,
    ChannelSettings,
    GroupRow,
    Job,
    JobStatus,
    PromptGroup,
    PRStatus,
    Request,
    RequestKind,
    RunRecord,
    StatusCheck,
    UserPrefs,
    WatchedRun,
)
from storage.schedules import Schedule


class RequestReader(Protocol):
    """Reading a request (notices of dead jobs)."""

    def get_request(self, request_id: int) -> Request | None: ...


class RunReader(Protocol):
    """Reading a run (a dead announcement's notice)."""

    def get_run(self, run_id: int) -> RunRecord | None: ...


class RequestSteps(Protocol):
    """Crash-safety steps of a request (bot/once.py)."""

    def note_step(self, request_id: int, step: str) -> bool: ...


class AuditLog(Protocol):
    """Recording a decision in the audit trail (storage/audit.py), in a transaction of its own."""

    def record_audit(self, **entry: Any) -> None: ...


class CreateStore(RequestReader, RunReader, RequestSteps, AuditLog, Protocol):
    """Create jobs (bot/creates.py) and the create queue's messages (bot/create_queue.py)."""

    def update_request(self, request_id: int, **changes: Any) -> None: ...
    def add_run(self, run: RunRecord, *, request_id: int | None = None) -> None: ...
    def count_runs_created_since(self, since: float) -> int: ...
    def queue_head(self, kind: RequestKind, limit: int) -> list[Request]: ...
    def requests_without_message(
        self, kind: RequestKind, now: float, limit: int
    ) -> list[tuple[Request, int]]: ...


class ResumeStore(RequestReader, RunReader, RequestSteps, AuditLog, Protocol):
    """Resume jobs (bot/resumes.py)."""

    def update_request(self, request_id: int, **changes: Any) -> None: ...
    def announcement_due(self, run_id: int) -> bool: ...
    def forget_step(self, request_id: int, step: str) -> None: ...
    def steps_of(self, request_id: int) -> frozenset[str]: ...
    def count_delivered_resumes(self, run_id: int, prompt: str, *, besides: int) -> int: ...
    def mark_resumed(self, run_id: int, now: float, *, request_id: int | None = None) -> None: ...
    def drop_stop(self, request_id: int, run_id: int, now: float) -> None: ...


class StepsStore(RequestReader, Protocol):
    """ "Show steps" jobs (bot/steps.py)."""

    def update_request(self, request_id: int, **changes: Any) -> None: ...


class ImagesStore(RequestReader, Protocol):
    """Image download jobs (bot/images.py)."""

    def files_fetched(self, request_id: int, *, images: list[str], prompt: str, now: float) -> None: ...


class ProgressStore(Protocol):
    """Progress lookups (bot/progress.py)."""

    def get_run(self, run_id: int) -> RunRecord | None: ...
    def count_active_runs(self) -> int: ...
    def record_progress(
        self, run_id: int, *, now: float, step: str | None = None, count: int | None = None
    ) -> bool: ...


class CardStore(Protocol):
    """Status cards (bot/cards.py)."""

    def get_run(self, run_id: int) -> RunRecord | None: ...
    def mark_card_shown(self, run: RunRecord, now: float) -> None: ...
    def mark_shown(self, run_id: int, status: str, now: float) -> None: ...
    def run_controls(self, run_id: int, channel: str, thread_ts: str) -> RunControls: ...
    def pr_states(self, run_id: int) -> dict[int, PRStatus]: ...


class UnfurlStore(Protocol):
    """Previews of run links (bot/unfurls.py)."""

    def get_run(self, run_id: int) -> RunRecord | None: ...


class SessionStore(Protocol):
    """Agent sessions (bot/sessions.py)."""

    def get_run(self, run_id: int) -> RunRecord | None: ...
    def stop_request(self, run_id: int) -> Request | None: ...
    def session_shown(self, run_id: int) -> SessionShown: ...
    def mark_session_shown(self, run_id: int, shown: SessionShown, now: float) -> None: ...


class AnnounceStore(Protocol):
    """Announcements of finished runs (bot/announce.py)."""

    def get_run(self, run_id: int) -> RunRecord | None: ...
    def announcement_state(self, run_id: int) -> AnnouncementState | None: ...
    def begin_announcement(self, run_id: int) -> None: ...
    def mark_announced(self, run_id: int, finish: int, now: float = 0.0) -> None: ...
    def mark_announced_all(self, run_id: int, now: float) -> None: ...
    def mark_shown(self, run_id: int, status: str, now: float) -> None: ...
    def channel_settings(self, channel: str) -> ChannelSettings: ...
    def user_prefs(self, user: str) -> UserPrefs: ...
    def finish_dm_sent(self, run_id: int, finish: int) -> bool: ...
    def mark_finish_dm_sent(self, run_id: int, finish: int) -> None: ...


class HomeStore(Protocol):
    """App Home publishes (bot/home_refresh.py)."""

    def runs_for_home(self, user: str, limit: int = 20) -> list[RunRecord]: ...
    def user_prefs(self, user: str) -> UserPrefs: ...
    def home_published(self, user: str, now: float) -> None: ...


class JobQueue(Protocol):
    """The job runner (bot/jobs/runner.py)."""

    def claim(
        self,
        now: float,
        *,
        kinds: list[str],
        blocked: list[str],
        exclusive: list[str],
        lease_seconds: float,
        owner: str = "",
    ) -> Job | None: ...
    def next_job_due(self, kinds: list[str], blocked: tuple[str, ...] | list[str] = ()) -> float | None: ...
    def finish(
        self,
        job: Job,
        status: JobStatus,
        *,
        now: float,
        run_after: float | None = None,
        error: str | None = None,
        count_attempt: bool = False,
        reset_attempts: bool = False,
        notice: dict[str, Any] | None = None,
        owner: str = "",
    ) -> bool: ...


class Housekeeping(Protocol):
    """The hourly clean-up (bot/housekeeping.py)."""

    def forget_done_jobs(self, before: float) -> None: ...
    def forget_audit(self, before: float) -> None: ...
    def forget_watch_matches(self, before: float) -> None: ...


class ScheduleJobStore(Protocol):
    """Firing due schedules and starting their runs (bot/schedules.py)."""

    def due_schedules(self, now: float, limit: int = 100) -> list[Schedule]: ...
    def fire_schedule(self, schedule: Schedule, *, now: float, next_fire_at: float) -> bool: ...
    def next_schedule_due(self) -> float | None: ...
    def schedule(self, schedule_id: int) -> Schedule | None: ...
    def pause_schedule(self, channel: str, schedule_id: int) -> Schedule | None: ...


class WatcherStore(Protocol):
    """The watcher's sweeps (bot/watcher.py)."""

    def watched_runs(self, page_size: int = 100) -> list[WatchedRun]: ...
    def record_checks(self, checks: list[StatusCheck], now: float) -> list[int]: ...
    def next_check_due(self) -> float | None: ...


class PRActionStore(RunReader, Protocol):
    """Pull-request actions (bot/pr_actions.py)."""

    def pr_states(self, run_id: int) -> dict[int, PRStatus]: ...
    def run_controls(self, run_id: int, channel: str, thread_ts: str) -> RunControls: ...
    def pr_change_done(self, key: str) -> bool: ...
    def record_pr_change(
        self,
        run_id: int,
        pr_ids: list[int],
        *,
        key: str,
        action: str,
        user: str,
        now: float,
        state: str | None = None,
        checks_stopped: bool | None = None,
        removed: bool | None = None,
    ) -> None: ...


class PromptGroupPort(Protocol):
    """Prompts for several repositories (bot/prompt_groups.py)."""

    def prompt_group(self, group_id: int) -> PromptGroup | None: ...
    def update_prompt_group(self, group_id: int, **changes: Any) -> None: ...
    def group_rows(self, group_id: int) -> list[GroupRow]: ...
    def add_group_member(self, group_id: int, request_key: str, repo: str, position: int) -> None: ...
    def count_creates_since(self, user: str, since: float, *, besides_group: int) -> int: ...
    def add_request(self, **request: Any) -> Request | None: ...
