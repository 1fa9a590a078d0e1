"""Jobs: every effect the bot still owes Slack or Codegen, with its status, attempts and lease.

A job's lifecycle (the runner in bot/jobs records every outcome through `JobStore.finish`):

| from      | event                                   | to        | attempts  |
|-----------|-----------------------------------------|-----------|-----------|
| (none)    | `arm` (in the transaction of its cause) | queued    | 0         |
| queued    | `claim` (lease for `lease_seconds`)     | running   |           |
| retrying  | `claim`                                 | running   |           |
| running   | done                                    | done      |           |
| running   | done, but armed again while it ran      | queued    | 0         |
| running   | any wait, but woken while it ran        | (as said) | due now   |
| running   | again after N s (a recurring job)       | queued    | 0         |
| running   | defer N s (no room in a rate limit)     | queued    | unchanged |
| running   | retry after N s (transient failure)     | retrying  | + 1       |
| running   | failed for good, or attempts exhausted  | dead      | + 1       |
| running   | lease expired (its process died)        | retrying  | unchanged |
| running   | another process took the lead           | retrying  | unchanged |
| done/dead | `arm` again (a new cause)               | queued    | 0         |
| dead      | `retry_job` (an operator)               | queued    | 0         |

A job that ends dead and has someone to tell gets a `notice` job in the same transaction, keyed by
the dead job, so the person is told exactly once. A job tied to a request (`request_id`) carries the
request's state along to "failed" when it ends dead (its handler marks it "done" with its effect).
What operators look at and `retry_job` are in storage/job_admin.py.
"""

from __future__ import annotations

import json
from typing import Any

from storage.database import StoreBase
from storage.records import Job, JobStatus, RequestWithdrawn
from storage.tx import Tx

DUE = (JobStatus.QUEUED.value, JobStatus.RETRYING.value)
NOTICE_KIND = "notice"
# Written out (not bound) so SQLite can use the partial index `jobs_due`, which has the same condition.
_IS_DUE = "status IN ('queued', 'retrying')"


def job_from_row(row: dict[str, Any]) -> Job:
    """A `jobs` row as a Job, its payload decoded."""
    return Job(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        status=JobStatus(row["status"]),
        priority=row["priority"],
        request_id=row["request_id"],
        run_id=row["run_id"],
        resource=row["resource"],
        payload=json.loads(row["payload"] or "{}"),
        attempts=row["attempts"],
        run_after=row["run_after"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def arm(
    db: Tx,
    kind: str,
    key: str,
    *,
    now: float,
    run_after: float | None = None,
    priority: int = 5,
    request_id: int | None = None,
    run_id: int | None = None,
    resource: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Make job `key` due at `run_after` (default `now`), inside the caller's transaction.

    A new key inserts a queued job. A queued or retrying one keeps the earlier of the two times; a
    running one is marked to run again once it ends; a done or dead one is queued afresh with no
    attempts. The payload of an existing job is replaced when one is given.
    """
    when = now if run_after is None else run_after
    row = list(db.query("SELECT id, status FROM jobs WHERE key = ?", (key,)))
    if not row:
        db.execute(
            "INSERT INTO jobs (kind, key, status, priority, request_id, run_id, resource, payload,"
            " attempts, run_after, again, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 0, ?, ?)",
            (kind, key, JobStatus.QUEUED.value, priority, request_id, run_id, resource,
             json.dumps(payload or {}), when, now, now),
        )  # fmt: skip
        return
    job_id, status = row[0]["id"], row[0]["status"]
    if payload is not None:
        db.execute("UPDATE jobs SET payload = ? WHERE id = ?", (json.dumps(payload), job_id))
    if status in DUE:
        db.execute(
            "UPDATE jobs SET run_after = CASE WHEN run_after < ? THEN run_after ELSE ? END WHERE id = ?",
            (when, when, job_id),
        )
    elif status == JobStatus.RUNNING.value:
        db.execute("UPDATE jobs SET again = 1 WHERE id = ?", (job_id,))
    else:
        db.execute(
            "UPDATE jobs SET status = ?, attempts = 0, run_after = ?, last_error = NULL, updated_at = ?"
            " WHERE id = ?",
            (JobStatus.QUEUED.value, when, now, job_id),
        )


def add_step(db: Tx, request_id: int, step: str) -> bool:
    """Note `step` of a request inside the caller's transaction; False when it was noted before."""
    cur = db.execute(
        "INSERT INTO steps (request_id, step) VALUES (?, ?) ON CONFLICT DO NOTHING", (request_id, step)
    )
    return cur.rowcount == 1


class JobStore(StoreBase):
    """Arming and claiming due jobs with a lease, recording their outcomes, forgetting done ones, and
    a request's crash-safety steps (what operators look at: storage.job_admin)."""

    def arm_job(self, kind: str, key: str, *, now: float, **fields: Any) -> None:
        """`arm` in a transaction of its own."""
        with self._tx() as db:
            arm(db, kind, key, now=now, **fields)

    def add_job(self, kind: str, key: str, *, now: float, **fields: Any) -> bool:
        """Record a one-off job due now (fields as for `arm`); a key recorded before is left as it is
        (a redelivered event does its effect once). True when it was added."""
        with self._tx() as db:
            if list(db.query("SELECT 1 FROM jobs WHERE key = ?", (key,))):
                return False
            arm(db, kind, key, now=now, **fields)
            return True

    def claim(
        self,
        now: float,
        *,
        kinds: list[str],
        blocked: list[str],
        exclusive: list[str],
        lease_seconds: float,
        owner: str = "",
    ) -> Job | None:
        """Take the most urgent due job of `kinds` whose resource is not `blocked`, leased to `owner`
        (the claiming process) until `now + lease_seconds`; the kinds in `exclusive` run one job at a
        time among them. Expired leases are released first. None when nothing can run now."""
        if not kinds:
            return None
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status = ? WHERE status = ? AND lease_until < ?",
                (JobStatus.RETRYING.value, JobStatus.RUNNING.value, now),
            )
            running = {r["kind"] for r in db.query(
                "SELECT DISTINCT kind FROM jobs WHERE status = ?", (JobStatus.RUNNING.value,)
            )}  # fmt: skip
            if running & set(exclusive):
                kinds = [k for k in kinds if k not in exclusive]
            if not kinds:
                return None
            sql = (
                f"SELECT * FROM jobs INDEXED BY jobs_due WHERE {_IS_DUE} AND run_after <= ?"
                f" AND kind IN ({','.join('?' * len(kinds))})"
            )
            params: list[Any] = [now, *kinds]
            if blocked:
                sql += f" AND (resource IS NULL OR resource NOT IN ({','.join('?' * len(blocked))}))"
                params += blocked
            sql += " ORDER BY priority, run_after, id LIMIT 1" + db.dialect.skip_locked
            rows = db.query(sql, params)
            if not rows:
                return None
            db.execute(
                "UPDATE jobs SET status = ?, lease_until = ?, lease_owner = ?, again = 0, updated_at = ?"
                " WHERE id = ?",
                (JobStatus.RUNNING.value, now + lease_seconds, owner, now, rows[0]["id"]),
            )
        return job_from_row(rows[0])

    def next_job_due(self, kinds: list[str], blocked: tuple[str, ...] | list[str] = ()) -> float | None:
        """When the earliest queued or retrying job of `kinds` whose resource is not `blocked` is due
        (None when there is none)."""
        if not kinds:
            return None
        sql = (
            f"SELECT MIN(run_after) AS t FROM jobs INDEXED BY jobs_due WHERE {_IS_DUE}"
            f" AND kind IN ({','.join('?' * len(kinds))})"
        )
        if blocked:
            sql += f" AND (resource IS NULL OR resource NOT IN ({','.join('?' * len(blocked))}))"
        return self._rows(sql, (*kinds, *blocked))[0]["t"]

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
    ) -> bool:
        """Record the outcome of a job that `owner` claimed (see the table in the module docstring);
        `notice`, for a dead job, is the payload of the job that tells the person concerned. False,
        and nothing written, when the job is no longer `owner`'s (its lease ran out and it was put
        back, or another process took over the work meanwhile)."""
        with self._tx() as db:
            rows = db.query("SELECT again, attempts, status, lease_owner FROM jobs WHERE id = ?", (job.id,))
            if not rows or rows[0]["status"] != JobStatus.RUNNING.value or rows[0]["lease_owner"] != owner:
                return False
            attempts = 0 if reset_attempts else rows[0]["attempts"] + (1 if count_attempt else 0)
            if rows[0]["again"]:  # armed or woken while it ran: what it waited for may be there now
                if status == JobStatus.DONE:
                    status, run_after, attempts = JobStatus.QUEUED, now, 0
                elif status in (JobStatus.QUEUED, JobStatus.RETRYING):
                    run_after = now
            db.execute(
                "UPDATE jobs SET status = ?, attempts = ?, run_after = COALESCE(?, run_after),"
                " last_error = ?, lease_until = NULL, lease_owner = NULL, again = 0, updated_at = ?"
                " WHERE id = ?",
                (status.value, attempts, run_after, error, now, job.id),
            )
            if job.request_id is not None and status == JobStatus.DEAD:
                db.execute(
                    "UPDATE requests SET state = 'failed', error = ? WHERE id = ?"
                    " AND state IN ('pending', 'fetching')",
                    (error, job.request_id),
                )
                db.execute(  # replies waiting for the run this request was making: tell them now
                    "UPDATE jobs SET run_after = ? WHERE status IN ('queued', 'retrying') AND request_id IN"
                    " (SELECT id FROM requests WHERE json_extract(options, '$.after_create') = ?)",
                    (now, job.request_id),
                )
            if status == JobStatus.DEAD and notice is not None:
                arm(db, NOTICE_KIND, f"notice:{job.id}", now=now, priority=0, payload=notice)
        return True

    def forget_done_jobs(self, before: float) -> None:
        """Drop jobs that ended done before `before` (dead ones stay for operators)."""
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE status = ? AND updated_at < ?", (JobStatus.DONE.value, before))

    # --- crash-safety steps of a request -----------------------------------------------------------

    def note_step(self, request_id: int, step: str, *, while_pending: bool = False) -> bool:
        """Note durably that `step` of a request is about to happen; True when it was noted before, so
        that an earlier attempt may have done it and the caller should look before doing it again.
        With `while_pending`, raises RequestWithdrawn, noting nothing, when the request no longer
        waits (it was cancelled): checked in the same transaction as a cancel checks for the step."""
        with self._tx() as db:
            if while_pending and not db.query(
                "SELECT 1 FROM requests WHERE id = ? AND state = 'pending'", (request_id,)
            ):
                raise RequestWithdrawn(request_id)
            return not add_step(db, request_id, step)

    def forget_step(self, request_id: int, step: str) -> None:
        """`step` surely did not happen (its call was refused), so the next attempt need not look."""
        with self._tx() as db:
            db.execute("DELETE FROM steps WHERE request_id = ? AND step = ?", (request_id, step))

    def steps_of(self, request_id: int) -> frozenset[str]:
        """The steps noted for a request."""
        rows = self._rows("SELECT step FROM steps WHERE request_id = ?", (request_id,))
        return frozenset(r["step"] for r in rows)
