"""What operators look at and do to jobs (`codegen-slack jobs`, /metrics): jobs by status, one job,
counts by kind and status, and running a dead or retrying job again."""

from __future__ import annotations

from storage.database import StoreBase
from storage.jobs import job_from_row
from storage.records import Job, JobStatus


class JobAdminStore(StoreBase):
    """The operators' queries on the `jobs` table (storage.jobs has the lifecycle)."""

    def jobs_in(self, statuses: tuple[JobStatus, ...], limit: int = 200) -> list[Job]:
        """Jobs in any of `statuses`, most recently changed first."""
        marks = ",".join("?" * len(statuses))
        rows = self._rows(
            f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY updated_at DESC, id DESC LIMIT ?",
            (*[s.value for s in statuses], limit),
        )
        return [job_from_row(r) for r in rows]

    def get_job(self, job_id: int) -> Job | None:
        """One job by id."""
        rows = self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(rows[0]) if rows else None

    def retry_job(self, job_id: int, now: float) -> bool:
        """Queue a dead or retrying job to run now with no attempts (its request pending again);
        False when no such job is dead or retrying."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET status = ?, attempts = 0, run_after = ?, updated_at = ? WHERE id = ?"
                " AND status IN (?, ?)",
                (JobStatus.QUEUED.value, now, now, job_id, JobStatus.DEAD.value, JobStatus.RETRYING.value),
            )
            if cur.rowcount != 1:
                return False
            db.execute(
                "UPDATE requests SET state = 'pending', error = NULL WHERE state = 'failed'"
                " AND id = (SELECT request_id FROM jobs WHERE id = ?)",
                (job_id,),
            )
            return True

    def count_jobs(self) -> dict[tuple[str, str], int]:
        """How many jobs there are by (kind, status)."""
        rows = self._rows("SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status")
        return {(r["kind"], r["status"]): r["n"] for r in rows}
