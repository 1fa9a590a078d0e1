"""Requests: what users asked for, recorded with its job before Slack is acknowledged, and the create queue.

A request's own state follows its intent; its job (storage/jobs.py) carries attempts and retries:

| state    | meaning                                                    | next                    |
|----------|------------------------------------------------------------|-------------------------|
| fetching | its Slack images are being downloaded (an `images` job)    | pending                 |
| pending  | its `create`, `resume` or `steps` job has work to do       | done, or failed         |
| done     | the run exists / the prompt reached it / the steps posted  | (final)                 |
| failed   | its job ended dead; `error` says why, the person was told  | pending (`jobs retry`)  |

A waiting create is cancelled (`cancel_create`) by ending it failed with error CANCELLED, unless
Codegen may have been asked already: the create job notes its "create" step only while the request
is pending, in one transaction, so exactly one of the two wins.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from storage.audit import AuditEntry, add_audit_entry
from storage.database import CREATE_STEP, RESUMED_STEP, StoreBase
from storage.job_kinds import PRIORITY, QUEUE, REQUEST_KINDS, arm_request
from storage.jobs import arm
from storage.records import Request, RequestKind, RequestState
from storage.rows import request_from_row


class CapReached(Exception):
    """A person asked for more runs in an hour than `hourly_cap` allows; `cap` is that number."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"hourly cap of {cap} runs reached")
        self.cap = cap


CANCELLED = "cancelled before it started"


class RequestStore(StoreBase):
    """What users asked for, from the Slack delivery to the queue, recorded before Slack is acknowledged."""

    # --- requests: what users asked for, recorded before Slack is acknowledged -----------------

    def add_request(
        self,
        *,
        key: str,
        kind: RequestKind,
        channel: str,
        user: str,
        prompt: str,
        now: float,
        thread_ts: str = "",
        options: dict[str, Any] | None = None,
        images: list[str] | None = None,
        run_id: int | None = None,
        status_ts: str | None = None,
        state: RequestState = "pending",
        hourly_cap: int = 0,
        audit: AuditEntry | None = None,
    ) -> Request | None:
        """Record a create, resume or "show steps" request and its job, in one transaction; None when
        a request with this key exists (a redelivery). With `hourly_cap`, a create is refused
        (CapReached) when `user` asked for that many in the hour before `now`; counted in the same
        transaction, so a burst cannot slip past it. `audit` is recorded with it (given the request's id),
        not for a redelivery."""
        with self._tx() as db:
            if hourly_cap and kind == "create":
                count = db.query(
                    "SELECT COUNT(*) AS n FROM requests WHERE kind = 'create' AND \"user\" = ?"
                    " AND created_at >= ?",
                    (user, now - 3600),
                )[0]["n"]
                if count >= hourly_cap:
                    raise CapReached(hourly_cap)
            rows = db.query(
                'INSERT INTO requests (key, kind, channel, thread_ts, "user", prompt,'
                " options, images, run_id, state, status_ts, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *",
                (key, kind, channel, thread_ts, user, prompt, json.dumps(options or {}),
                 json.dumps(images or []), run_id, state, status_ts, now),
            )  # fmt: skip
            if not rows:
                return None
            arm_request(db, kind, rows[0]["id"], now=now, fetching=state == "fetching")
            if audit is not None:
                add_audit_entry(db, replace(audit, request_id=rows[0]["id"]))
        return request_from_row(rows[0])

    def cancel_create(self, request_id: int, user: str, *, now: float, audit: AuditEntry) -> Request | None:
        """Withdraw create request `request_id` before its run is made, in one transaction: it ends
        failed with error CANCELLED and notice `cancel:<user>` (the `queue` job, armed here, shows that
        on its message and moves the others up), and `audit` is recorded. Returns the request as it
        waited; None, changing nothing, when it no longer waits or Codegen may have been asked."""
        with self._tx() as db:
            rows = db.query(
                "SELECT * FROM requests WHERE id = ? AND kind = 'create' AND state = 'pending' AND NOT EXISTS"
                " (SELECT 1 FROM steps WHERE request_id = requests.id AND step = ?)",
                (request_id, CREATE_STEP),
            )
            if not rows:
                return None
            cancelled = {"state": "failed", "error": CANCELLED, "notice": f"cancel:{user}"}
            db.update("requests", {"id": request_id}, cancelled)
            arm(db, QUEUE, QUEUE, now=now, priority=PRIORITY[QUEUE])
            add_audit_entry(db, replace(audit, request_id=request_id))
        return request_from_row(rows[0])

    def cancels_to_show(self, limit: int) -> list[Request]:
        """Cancelled creates whose message does not say so yet (notice `cancel:<who cancelled>`)."""
        rows = self._rows(  # by the state index: failed requests are few
            "SELECT * FROM requests WHERE state = 'failed' AND notice LIKE 'cancel:%' ORDER BY id LIMIT ?",
            (limit,),
        )
        return [request_from_row(r) for r in rows]

    def note_queued(self, request_id: int, notice: str) -> None:
        """The request's message now shows `notice` (`queued:<position>`), if it still waits (a cancel
        meanwhile keeps its own notice, so that its message is edited to say so next)."""
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET notice = ? WHERE id = ? AND state = 'pending'", (notice, request_id)
            )

    def get_request(self, request_id: int) -> Request | None:
        """One request by id."""
        rows = self._rows("SELECT * FROM requests WHERE id = ?", (request_id,))
        return request_from_row(rows[0]) if rows else None

    def count_pending(self) -> dict[str, int]:
        """How many requests of each kind are not yet delivered (metrics)."""
        rows = self._rows("SELECT kind, COUNT(*) AS n FROM requests WHERE state = 'pending' GROUP BY kind")
        return {r["kind"]: r["n"] for r in rows}

    def update_request(self, request_id: int, **changes: Any) -> None:
        """Change fields of a request (status_ts, thread_ts, notice, run_id, …)."""
        if "options" in changes:
            changes["options"] = json.dumps(changes["options"])
        with self._tx() as db:
            db.update("requests", {"id": request_id}, changes)

    # --- retries -----------------------------------------------------------------------------------

    def has_request(self, key: str) -> bool:
        """Whether a request with this key was ever recorded."""
        return bool(self._rows("SELECT 1 FROM requests WHERE key = ?", (key,)))

    def create_request_for_run(self, run_id: int) -> Request | None:
        """The create request that became this run (its prompt, options and images)."""
        rows = self._rows(
            "SELECT * FROM requests WHERE kind = 'create' AND run_id = ? ORDER BY id LIMIT 1", (run_id,)
        )
        return request_from_row(rows[0]) if rows else None

    # --- images waiting to be downloaded ------------------------------------------------------------

    def files_fetched(self, request_id: int, *, images: list[str], prompt: str, now: float) -> None:
        """The request's images are downloaded: store them and its final prompt, and make it pending."""
        with self._tx() as db:
            db.update(
                "requests",
                {"id": request_id},
                {"images": json.dumps(images), "prompt": prompt, "state": "pending"},
            )
            kind = db.query("SELECT kind FROM requests WHERE id = ?", (request_id,))[0]["kind"]
            arm_request(db, kind, request_id, now=now, fetching=False)

    # --- crash safety: steps of a request that may already have happened -----------------------------

    def count_delivered_resumes(self, run_id: int, prompt: str, *, besides: int) -> int:
        """How many resume requests other than `besides` delivered this very prompt to the run."""
        rows = self._rows(
            "SELECT COUNT(*) AS n FROM requests WHERE kind = 'resume' AND run_id = ? AND prompt = ?"
            " AND id != ? AND (state = 'done' OR EXISTS"
            " (SELECT 1 FROM steps WHERE steps.request_id = requests.id AND step = ?))",
            (run_id, prompt, besides, RESUMED_STEP),
        )
        return rows[0]["n"]

    # --- the create queue ---------------------------------------------------------------------------

    def queue_head(self, kind: RequestKind, limit: int) -> list[Request]:
        """The first `limit` pending requests of a kind, in queue order (oldest first)."""
        rows = self._rows(
            "SELECT * FROM requests WHERE state = 'pending' AND kind = ? ORDER BY id LIMIT ?", (kind, limit)
        )
        return [request_from_row(r) for r in rows]

    def requests_without_message(
        self, kind: RequestKind, now: float, limit: int
    ) -> list[tuple[Request, int]]:
        """Due pending requests of a kind that have no status message yet, oldest first, each with its
        place in the queue (1: next to start)."""
        rows = self._rows(
            "SELECT r.*, (SELECT COUNT(*) FROM requests q WHERE q.state = 'pending' AND q.kind = r.kind"
            " AND q.id <= r.id) AS position FROM requests r JOIN jobs j ON j.request_id = r.id AND j.kind = ?"
            " WHERE r.state = 'pending' AND r.kind = ? AND r.status_ts IS NULL AND j.run_after <= ?"
            " ORDER BY r.id LIMIT ?",
            (REQUEST_KINDS[kind], kind, now, limit),
        )
        return [(request_from_row(r), r["position"]) for r in rows]

    def count_runs_created_since(self, since: float) -> int:
        """How many runs the bot has started since `since` (to refill the create limiter after a restart)."""
        return self._rows("SELECT COUNT(*) AS n FROM runs WHERE created_at >= ?", (since,))[0]["n"]
