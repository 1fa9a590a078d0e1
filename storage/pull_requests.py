"""What the bot did to runs' pull requests through Codegen (Codegen's run answer does not say a PR's
state, so the card shows what was set here)."""

from __future__ import annotations

from typing import Any

from storage.database import StoreBase
from storage.records import PRStatus

_UPSERT = (
    "INSERT INTO pr_states (run_id, pr_id, state, checks_stopped, removed, changed_by, changed_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, pr_id) DO UPDATE SET"
    " state = COALESCE(excluded.state, pr_states.state),"
    " checks_stopped = CASE WHEN ? IS NULL THEN pr_states.checks_stopped ELSE excluded.checks_stopped END,"
    " removed = CASE WHEN ? IS NULL THEN pr_states.removed ELSE excluded.removed END,"
    " changed_by = excluded.changed_by, changed_at = excluded.changed_at"
)


class PullRequestStore(StoreBase):
    """Pull-request states and flags set from Slack."""

    def pr_states(self, run_id: int) -> dict[int, PRStatus]:
        """What was set on each of a run's pull requests, by PR id (absent: nothing yet)."""
        rows = self._rows("SELECT * FROM pr_states WHERE run_id = ?", (run_id,))
        return {row["pr_id"]: _status(row) for row in rows}

    def pr_change_done(self, key: str) -> bool:
        """Whether the PR action `key` (its job's key) has already been recorded as done."""
        return bool(self._rows("SELECT 1 FROM pr_actions WHERE key = ?", (key,)))

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
    ) -> None:
        """Codegen took `action` (job `key`) from `user` for these PRs (the first is the one clicked):
        a new `state`, and/or the flags (None leaves a value as it was); the action is logged once."""
        stopped = None if checks_stopped is None else int(checks_stopped)
        gone = None if removed is None else int(removed)
        with self._tx() as db:
            for pr_id in pr_ids:
                params: tuple[Any, ...] = (run_id, pr_id, state, stopped or 0, gone or 0, user, now)
                db.execute(_UPSERT, (*params, stopped, gone))
            db.execute(
                "INSERT INTO pr_actions (key, run_id, pr_id, action, actor, done_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, run_id, pr_ids[0], action, user, now),
            )


def _status(row: dict[str, Any]) -> PRStatus:
    return PRStatus(
        run_id=row["run_id"],
        pr_id=row["pr_id"],
        state=row["state"],
        checks_stopped=bool(row["checks_stopped"]),
        removed=bool(row["removed"]),
        changed_by=row["changed_by"],
        changed_at=row["changed_at"],
    )
