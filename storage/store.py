"""The one storage interface that handlers and workers use: small named operations, no SQL outside."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from typing import Any

import sqlite_utils

from storage.records import PullRequest, Request, RequestKind, RunRecord
from storage.schema import migrate

EVENT_MEMORY_SECONDS = 24 * 3600


class StorageError(Exception):
    """The database could not be written (disk full, locked, unreadable); nothing was half-written."""


def _open(path: str) -> sqlite3.Connection:
    """Open (creating with mode 0600) a WAL-mode connection shared by this process's threads."""
    if path != ":memory:" and not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _run_from_row(row: dict[str, Any]) -> RunRecord:
    prs = tuple(PullRequest(**p) for p in json.loads(row.get("pull_requests") or "[]"))
    names = {f.name for f in fields(RunRecord)}
    values = {k: v for k, v in row.items() if k in names and v is not None}
    values["pull_requests"] = prs
    return RunRecord(**values)


def _request_from_row(row: dict[str, Any]) -> Request:
    names = {f.name for f in fields(Request)}
    values = {k: v for k, v in row.items() if k in names and v is not None}
    values["options"] = json.loads(row.get("options") or "{}")
    values["images"] = tuple(json.loads(row.get("images") or "[]"))
    return Request(**values)


class Store:
    """Threads ↔ runs, run state, pending requests and processed event ids, in one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._conn = _open(path)
            self._db = sqlite_utils.Database(self._conn)
            self.schema_version = migrate(self._db)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database {path}: {exc}") from None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite_utils.Database]:
        """One serialised write transaction; sqlite errors become StorageError."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"database write failed: {exc}") from None

    def _rows(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                return list(self._db.query(sql, params))
            except sqlite3.Error as exc:
                raise StorageError(f"database read failed: {exc}") from None

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
    ) -> Request | None:
        """Record a create or resume; None when a request with this key exists (a redelivery)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO requests (key, kind, channel, thread_ts, user, prompt,"
                " options, images, run_id, state, attempts, next_attempt_at, status_ts, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
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
                    now,
                    status_ts,
                    now,
                ),
            )
            if cur.rowcount != 1:
                return None
            row = next(db.query("SELECT * FROM requests WHERE id = ?", (cur.lastrowid,)))
        return _request_from_row(row)

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
        return _request_from_row(rows[0]) if rows else None

    def due_requests(self, kind: RequestKind, now: float, limit: int = 50) -> list[Request]:
        """Pending requests of a kind whose next attempt is due, first come first served."""
        rows = self._rows(
            "SELECT * FROM requests WHERE state = 'pending' AND kind = ? AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (kind, now, limit),
        )
        return [_request_from_row(r) for r in rows]

    def pending_requests(self, kind: RequestKind) -> list[Request]:
        """Every pending request of a kind, oldest first."""
        rows = self._rows("SELECT * FROM requests WHERE state = 'pending' AND kind = ? ORDER BY id", (kind,))
        return [_request_from_row(r) for r in rows]

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

    # --- runs and threads ----------------------------------------------------------------------

    def add_run(self, run: RunRecord, *, request_id: int | None = None) -> None:
        """Store a new run, map its thread to it, and mark the request that made it done."""
        row = {f.name: getattr(run, f.name) for f in fields(RunRecord)}
        row["pull_requests"] = json.dumps([vars(p) for p in run.pull_requests])
        row["finished"] = int(run.finished)
        row["next_check_at"] = run.created_at
        with self._tx() as db:
            db["runs"].insert(row, replace=True)
            db["threads"].insert(
                {"channel": run.channel, "thread_ts": run.thread_ts, "run_id": run.run_id},
                replace=True,
            )
            if request_id is not None:
                db["requests"].update(request_id, {"state": "done", "run_id": run.run_id})

    def count_runs_by_status(self) -> dict[str, int]:
        """How many runs the bot knows in each status."""
        rows = self._rows("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in rows}

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by Codegen id."""
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run_from_row(rows[0]) if rows else None

    def run_for_thread(self, channel: str, thread_ts: str) -> RunRecord | None:
        """The run that a Slack thread belongs to, if any."""
        rows = self._rows(
            "SELECT runs.* FROM threads JOIN runs USING (run_id)"
            " WHERE threads.channel = ? AND threads.thread_ts = ?",
            (channel, thread_ts),
        )
        return _run_from_row(rows[0]) if rows else None

    def runs_for_user(self, user: str, limit: int = 10, channel: str | None = None) -> list[RunRecord]:
        """A user's most recent runs, newest first (optionally in one channel)."""
        sql = "SELECT * FROM runs WHERE requester = ?"
        params: tuple[Any, ...] = (user,)
        if channel:
            sql += " AND channel = ?"
            params += (channel,)
        rows = self._rows(sql + " ORDER BY created_at DESC, run_id DESC LIMIT ?", (*params, limit))
        return [_run_from_row(r) for r in rows]

    def active_runs(self) -> list[RunRecord]:
        """Runs still working, oldest first."""
        rows = self._rows("SELECT * FROM runs WHERE finished = 0 ORDER BY run_id")
        return [_run_from_row(r) for r in rows]

    def due_runs(self, now: float) -> list[RunRecord]:
        """Working runs whose next status check is due, oldest first."""
        rows = self._rows(
            "SELECT * FROM runs WHERE finished = 0 AND next_check_at <= ? ORDER BY run_id", (now,)
        )
        return [_run_from_row(r) for r in rows]

    def next_check_due(self) -> float | None:
        """When the earliest working run is next due for a check."""
        rows = self._rows("SELECT MIN(next_check_at) AS t FROM runs WHERE finished = 0")
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def count_runs_since(self, run_id: int) -> int:
        """How many stored runs are as new as or newer than `run_id` (estimates list paging)."""
        return self._rows("SELECT COUNT(*) AS n FROM runs WHERE run_id >= ?", (run_id,))[0]["n"]

    def record_check(
        self,
        run_id: int,
        *,
        now: float,
        next_check_at: float,
        next_check_if_changed: float | None = None,
        status: str | None = None,
        result: str | None = None,
        summary: str | None = None,
        web_url: str | None = None,
        pull_requests: tuple[PullRequest, ...] | None = None,
    ) -> bool:
        """Write what a status check saw; True when something a user would see changed."""
        with self._tx() as db:
            rows = list(db.query("SELECT * FROM runs WHERE run_id = ?", (run_id,)))
            if not rows:
                return False
            old = _run_from_row(rows[0])
            new = replace(
                old,
                status=status or old.status,
                result=result if result is not None else old.result,
                summary=summary if summary is not None else old.summary,
                web_url=web_url or old.web_url,
                pull_requests=pull_requests if pull_requests is not None else old.pull_requests,
            )
            changed = new != old
            update: dict[str, Any] = {"checked_at": now, "next_check_at": next_check_at}
            if changed:
                update["next_check_at"] = next_check_if_changed or next_check_at
                update.update(
                    status=new.status,
                    result=new.result,
                    summary=new.summary,
                    web_url=new.web_url,
                    pull_requests=json.dumps([vars(p) for p in new.pull_requests]),
                    changed_at=now,
                    finished=int(new.finished),
                )
                if new.finished and not old.finished:
                    update["finished_at"] = now
                    update["finish_count"] = rows[0]["finish_count"] + 1
                elif old.finished and not new.finished:
                    update["finished_at"] = None
            db["runs"].update(run_id, update)
        return changed

    def mark_resumed(self, run_id: int, now: float) -> None:
        """A resume was accepted: the run works again and is checked soon."""
        with self._tx() as db:
            db["runs"].update(
                run_id,
                {
                    "status": "ACTIVE",
                    "finished": 0,
                    "finished_at": None,
                    "changed_at": now,
                    "next_check_at": now,
                },
            )

    # --- what Slack shows ------------------------------------------------------------------------

    def runs_to_show(self, limit: int = 50) -> list[RunRecord]:
        """Runs whose status message shows an older status than the run has."""
        rows = self._rows(
            "SELECT * FROM runs WHERE status_ts IS NOT NULL"
            " AND (shown_status IS NULL OR shown_status != status) ORDER BY changed_at LIMIT ?",
            (limit,),
        )
        return [_run_from_row(r) for r in rows]

    def runs_to_refresh(self, shown_before: float, limit: int = 10) -> list[RunRecord]:
        """Working runs whose status message was last edited before `shown_before` (elapsed time)."""
        rows = self._rows(
            "SELECT * FROM runs WHERE finished = 0 AND status_ts IS NOT NULL"
            " AND shown_status = status AND COALESCE(shown_at, 0) < ? ORDER BY shown_at LIMIT ?",
            (shown_before, limit),
        )
        return [_run_from_row(r) for r in rows]

    def mark_shown(self, run_id: int, status: str, now: float) -> None:
        """The status message now shows `status`."""
        with self._tx() as db:
            db["runs"].update(run_id, {"shown_status": status, "shown_at": now})

    def runs_to_announce(self, limit: int = 50) -> list[tuple[RunRecord, int, bool]]:
        """Finished runs with an unannounced finish: (run, finish number, announcement begun)."""
        rows = self._rows(
            "SELECT * FROM runs WHERE finished = 1 AND finish_count > announced_count"
            " ORDER BY finished_at LIMIT ?",
            (limit,),
        )
        return [(_run_from_row(r), r["finish_count"], bool(r["announcing"])) for r in rows]

    def begin_announcement(self, run_id: int) -> None:
        """Note that result posts may be on Slack from here on (checked after a crash)."""
        with self._tx() as db:
            db["runs"].update(run_id, {"announcing": 1})

    def mark_announced(self, run_id: int, finish: int) -> None:
        """The finish number `finish` of this run has been announced in Slack."""
        with self._tx() as db:
            db["runs"].update(run_id, {"announced_count": finish, "announcing": 0})

    def mark_announced_all(self, run_id: int) -> None:
        """Every finish of this run counts as announced (used when its channel is gone)."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET announced_count = finish_count, announcing = 0 WHERE run_id = ?", (run_id,)
            )

    def health(self) -> str:
        """ "ok" when the database answers, else the error."""
        try:
            self._rows("SELECT 1")
            return "ok"
        except StorageError as exc:
            return str(exc)
