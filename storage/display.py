"""What Slack shows: status messages, finish announcements, live progress and finish DMs."""

from __future__ import annotations

from typing import Any

from storage.database import StoreBase
from storage.job_kinds import ANNOUNCE, CARD, arm_refresh, arm_session, wake_requests
from storage.records import AnnouncementState, RunRecord
from storage.rows import run_from_row


class DisplayStore(StoreBase):
    """What Slack shows of each run, and what is still to be shown, announced or sent."""

    # --- what Slack shows ------------------------------------------------------------------------

    def runs_to_show(self, limit: int = 50) -> list[RunRecord]:
        """Runs whose status message shows an older status than the run has."""
        rows = self._rows(
            "SELECT * FROM runs INDEXED BY runs_unshown WHERE status_ts IS NOT NULL"
            " AND (shown_status IS NULL OR shown_status != status) ORDER BY changed_at LIMIT ?",
            (limit,),
        )
        return [run_from_row(r) for r in rows]

    def mark_shown(self, run_id: int, status: str, now: float) -> None:
        """The status message now shows `status`."""
        with self._tx() as db:
            db.update("runs", {"run_id": run_id}, {"shown_status": status, "shown_at": now})

    def begin_announcement(self, run_id: int) -> None:
        """Note that result posts may be on Slack from here on (checked after a crash)."""
        with self._tx() as db:
            db.update("runs", {"run_id": run_id}, {"announcing": 1})

    def mark_announced(self, run_id: int, finish: int, now: float = 0.0) -> None:
        """The finish number `finish` of this run has been announced in Slack; the follow-ups that
        waited for it are due at `now`."""
        with self._tx() as db:
            db.update("runs", {"run_id": run_id}, {"announced_count": finish, "announcing": 0})
            db.execute(  # an announcement job for it, if any, has nothing left to do
                "UPDATE jobs SET status = 'done' WHERE key = ? AND status IN ('queued', 'retrying')",
                (f"{ANNOUNCE}:{run_id}:{finish}",),
            )
            wake_requests(db, "kind = 'resume' AND run_id = ?", (run_id,), now)

    def mark_announced_all(self, run_id: int, now: float) -> None:
        """Every finish of this run counts as announced (used when its channel is gone)."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET announced_count = finish_count, announcing = 0 WHERE run_id = ?", (run_id,)
            )
            wake_requests(db, "kind = 'resume' AND run_id = ?", (run_id,), now)

    def announcement_state(self, run_id: int) -> AnnouncementState | None:
        """How far the run's finishes have been announced (None: no such run)."""
        rows = self._rows(
            "SELECT finish_count, announced_count, announcing FROM runs WHERE run_id = ?", (run_id,)
        )
        if not rows:
            return None
        return AnnouncementState(
            rows[0]["finish_count"], rows[0]["announced_count"], bool(rows[0]["announcing"])
        )

    def announcement_due(self, run_id: int) -> bool:
        """Whether a finish of the run is still to be announced in Slack."""
        rows = self._rows(
            "SELECT finish_count > announced_count AS due FROM runs WHERE run_id = ?", (run_id,)
        )
        return bool(rows and rows[0]["due"])

    # --- live progress ------------------------------------------------------------------------------

    def mark_card_shown(self, run: RunRecord, now: float) -> None:
        """The card now shows `run` as read. It stays due for an edit when its progress moved on since,
        or when a change armed its `card` job during the edit (Stop or muting, which the edit may not
        show): that job then edits it again instead of finding it shown."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET shown_status = ?, shown_at = CASE WHEN latest_step IS ? AND step_count = ?"
                " AND NOT EXISTS (SELECT 1 FROM jobs WHERE key = ?"
                " AND (again = 1 OR status IN ('queued', 'retrying'))) THEN ? END WHERE run_id = ?",
                (run.status, run.latest_step, run.step_count, f"{CARD}:{run.run_id}", now, run.run_id),
            )

    def count_active_runs(self) -> int:
        """How many runs are still working."""
        return self._rows("SELECT COUNT(*) AS n FROM runs WHERE finished = 0")[0]["n"]

    def record_progress(
        self, run_id: int, *, now: float, step: str | None = None, count: int | None = None
    ) -> bool:
        """Write the run's latest step and step count; True (and its card due for an edit) on a change."""
        with self._tx() as db:
            rows = list(db.query("SELECT latest_step, step_count FROM runs WHERE run_id = ?", (run_id,)))
            if not rows:
                return False
            update: dict[str, Any] = {}
            new_step = step if step is not None else rows[0]["latest_step"]
            new_count = count if count is not None else rows[0]["step_count"]
            changed = (new_step, new_count) != (rows[0]["latest_step"], rows[0]["step_count"])
            if changed:
                update.update(latest_step=new_step, step_count=new_count, shown_at=None)
                db.update("runs", {"run_id": run_id}, update)
                arm_refresh(db, run_id, now=now)
                arm_session(db, run_id, now=now)  # the latest step is the session's loading text
        return changed

    # --- finish DMs ---------------------------------------------------------------------------------

    def finish_dm_sent(self, run_id: int, finish: int) -> bool:
        """Whether the requester was already sent a DM about finish number `finish` of this run."""
        rows = self._rows("SELECT dm_finish FROM runs WHERE run_id = ?", (run_id,))
        return bool(rows) and rows[0]["dm_finish"] >= finish

    def mark_finish_dm_sent(self, run_id: int, finish: int) -> None:
        """The requester has been sent a DM about finish number `finish`."""
        with self._tx() as db:
            db.update("runs", {"run_id": run_id}, {"dm_finish": finish})
