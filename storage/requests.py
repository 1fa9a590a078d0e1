"""Requests: Slack delivery ids, what users asked for, retries, images waiting, crash-safety steps and the
create queue."""

from __future__ import annotations

import json
from typing import Any

from storage.database import RESUMED_STEP, StoreBase
from storage.records import Request, RequestKind, RequestState
from storage.rows import request_from_row

EVENT_MEMORY_SECONDS = 24 * 3600


class RequestStore(StoreBase):
    """What users asked for, from the Slack delivery to the queue, recorded before Slack is acknowledged."""

    # --- Slack deliveries -------------------------------------------------------------------

    def claim_event(self, key: str, now: float) -> bool:
        """Remember a Slack delivery; True the first time `key` is seen, False for a redelivery."""
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO events (key, seen_at) VALUES (?, ?)", (key, now))
            return cur.rowcount == 1

    def forget_old_events(self, now: float) -> None:
        """Drop delivery ids older than Slack ever redelivers, so the table stays small."""
        with self._tx() as db:
            db.execute("DELETE FROM events WHERE seen_at < ?", (now - EVENT_MEMORY_SECONDS,))

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
    ) -> Request | None:
        """Record a create or resume; None when a request with this key exists (a redelivery)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO requests (key, kind, channel, thread_ts, user, prompt,"
                " options, images, run_id, state, attempts, next_attempt_at, status_ts, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    key,
                    kind,
                    channel,
                    thread_ts,
                    user,
                    prompt,
                    json.dumps(options or {}),
                    json.dumps(images or []),
                    run_id,
                    state,
                    now,
                    status_ts,
                    now,
                ),
            )
            if cur.rowcount != 1:
                return None
            row = next(db.query("SELECT * FROM requests WHERE id = ?", (cur.lastrowid,)))
        return request_from_row(row)

    def count_creates_since(self, user: str, since: float) -> int:
        """How many runs `user` has asked for since `since` (failed requests included)."""
        rows = self._rows(
            "SELECT COUNT(*) AS n FROM requests WHERE kind = 'create' AND user = ? AND created_at >= ?",
            (user, since),
        )
        return int(rows[0]["n"])

    def get_request(self, request_id: int) -> Request | None:
        """One request by id."""
        rows = self._rows("SELECT * FROM requests WHERE id = ?", (request_id,))
        return request_from_row(rows[0]) if rows else None

    def due_requests(self, kind: RequestKind, now: float, limit: int = 50) -> list[Request]:
        """Pending requests of a kind whose next attempt is due, first come first served."""
        rows = self._rows(
            "SELECT * FROM requests WHERE state = 'pending' AND kind = ? AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (kind, now, limit),
        )
        return [request_from_row(r) for r in rows]

    def pending_requests(self, kind: RequestKind) -> list[Request]:
        """Every pending request of a kind, oldest first."""
        rows = self._rows("SELECT * FROM requests WHERE state = 'pending' AND kind = ? ORDER BY id", (kind,))
        return [request_from_row(r) for r in rows]

    def next_request_due(self, now: float) -> float | None:
        """When the earliest pending request is due (None when nothing is pending)."""
        rows = self._rows("SELECT MIN(next_attempt_at) AS t FROM requests WHERE state = 'pending'")
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def update_request(self, request_id: int, **changes: Any) -> None:
        """Change fields of a request (state, attempts, next_attempt_at, status_ts, error, …)."""
        if "options" in changes:
            changes["options"] = json.dumps(changes["options"])
        with self._tx() as db:
            db["requests"].update(request_id, changes)

    def wake_resumes(self, run_id: int, now: float) -> None:
        """Make the run's waiting resume prompts due now (the run paused or finished)."""
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET next_attempt_at = ? WHERE kind = 'resume' AND run_id = ?"
                " AND state = 'pending'",
                (now, run_id),
            )

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

    def requests_fetching_files(self, now: float, limit: int = 20) -> list[Request]:
        """Requests whose Slack images are due to be downloaded, oldest first."""
        rows = self._rows(
            "SELECT * FROM requests WHERE state = 'fetching' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [request_from_row(r) for r in rows]

    def next_fetch_due(self) -> float | None:
        """When the earliest request waiting for its images is due."""
        rows = self._rows("SELECT MIN(next_attempt_at) AS t FROM requests WHERE state = 'fetching'")
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def files_fetched(self, request_id: int, *, images: list[str], prompt: str, now: float) -> None:
        """The request's images are downloaded: store them and its final prompt, and make it pending."""
        with self._tx() as db:
            db["requests"].update(
                request_id,
                {
                    "images": json.dumps(images),
                    "prompt": prompt,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                },
            )

    # --- crash safety: steps of a request that may already have happened -----------------------------

    def note_step(self, request_id: int, step: str) -> bool:
        """Note durably that `step` of a request is about to happen; True when it was noted before, so
        that an earlier attempt may have done it and the caller should look before doing it again."""
        with self._tx() as db:
            return not self._add_step(db, request_id, step)

    def forget_step(self, request_id: int, step: str) -> None:
        """`step` surely did not happen (its call was refused), so the next attempt need not look."""
        with self._tx() as db:
            options = self._options(db, request_id)
            if step in options.get("steps", []):
                options["steps"].remove(step)
                db["requests"].update(request_id, {"options": json.dumps(options)})

    def count_delivered_resumes(self, run_id: int, prompt: str, *, besides: int) -> int:
        """How many resume requests other than `besides` delivered this very prompt to the run."""
        rows = self._rows(
            "SELECT COUNT(*) AS n FROM requests WHERE kind = 'resume' AND run_id = ? AND prompt = ?"
            " AND id != ? AND (state = 'done' OR EXISTS"
            " (SELECT 1 FROM json_each(requests.options, '$.steps') WHERE value = ?))",
            (run_id, prompt, besides, RESUMED_STEP),
        )
        return rows[0]["n"]

    def wake_resumes_of_paused_runs(self, now: float) -> None:
        """Make the waiting resumes of every finished run due now (at start: the finish that the last
        process recorded may not have woken them before it stopped)."""
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET next_attempt_at = ? WHERE kind = 'resume' AND state = 'pending'"
                " AND run_id IN (SELECT run_id FROM runs WHERE finished = 1)",
                (now,),
            )

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
            " AND q.id <= r.id) AS position FROM requests r WHERE r.state = 'pending' AND r.kind = ?"
            " AND r.status_ts IS NULL AND r.next_attempt_at <= ? ORDER BY r.id LIMIT ?",
            (kind, now, limit),
        )
        return [(request_from_row(r), r["position"]) for r in rows]

    def next_due_request(self, kind: RequestKind) -> float | None:
        """When the earliest pending request of a kind is due (None when none is pending)."""
        rows = self._rows(
            "SELECT MIN(next_attempt_at) AS t FROM requests WHERE state = 'pending' AND kind = ?", (kind,)
        )
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def count_runs_created_since(self, since: float) -> int:
        """How many runs the bot has started since `since` (to refill the create limiter after a restart)."""
        return self._rows("SELECT COUNT(*) AS n FROM runs WHERE created_at >= ?", (since,))[0]["n"]
