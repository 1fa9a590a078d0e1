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

from storage.records import (
    ChannelSettings,
    PullRequest,
    Request,
    RequestKind,
    RequestState,
    RunRecord,
    StatusCheck,
    UserPrefs,
    WatchedRun,
)
from storage.schema import migrate

EVENT_MEMORY_SECONDS = 24 * 3600
RESUMED_STEP = "resumed"  # noted on a resume request once Codegen accepted its prompt
# Replies waiting for the run that one create request (the parameter) is still making.
_FOLLOW_UPS_OF = (
    "state IN ('pending', 'fetching') AND kind = 'resume' AND run_id IS NULL"
    " AND json_extract(options, '$.after_create') = ?"
)


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
        row["finish_count"] = int(run.finished)  # already finished (found after a crash): announce it
        row["next_check_at"] = run.created_at
        with self._tx() as db:
            db["runs"].insert(row, replace=True)
            db["threads"].insert(
                {"channel": run.channel, "thread_ts": run.thread_ts, "run_id": run.run_id},
                replace=True,
            )
            if request_id is not None:
                db["requests"].update(request_id, {"state": "done", "run_id": run.run_id})
                db.execute(  # replies written in the thread while the run was being made
                    f"UPDATE requests SET run_id = ?, next_attempt_at = ? WHERE {_FOLLOW_UPS_OF}",
                    (run.run_id, run.created_at, request_id),
                )

    def count_runs_by_status(self) -> dict[str, int]:
        """How many runs the bot knows in each status."""
        rows = self._rows("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in rows}

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by Codegen id."""
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run_from_row(rows[0]) if rows else None

    def wake_follow_ups(self, create_id: int, now: float) -> None:
        """Make the replies waiting for the run of create request `create_id` due now (it failed)."""
        with self._tx() as db:
            db.execute(f"UPDATE requests SET next_attempt_at = ? WHERE {_FOLLOW_UPS_OF}", (now, create_id))

    def create_for_thread(self, channel: str, thread_ts: str) -> Request | None:
        """The request still making the run of a Slack thread, if any."""
        rows = self._rows(
            "SELECT * FROM requests WHERE kind = 'create' AND state IN ('pending', 'fetching')"
            " AND channel = ? AND thread_ts = ? ORDER BY id DESC LIMIT 1",
            (channel, thread_ts),
        )
        return _request_from_row(rows[0]) if rows else None

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
        check = StatusCheck(
            run_id, next_check_at, next_check_if_changed, status, result, summary, web_url, pull_requests
        )
        return bool(self.record_checks([check], now))

    def mark_resumed(self, run_id: int, now: float, *, request_id: int | None = None) -> None:
        """A resume was accepted: the run works again and is checked soon; the resume request (if
        given) gets its "resumed" step noted in the same transaction."""
        with self._tx() as db:
            if request_id is not None:
                self._add_step(db, request_id, RESUMED_STEP)
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

    def runs_to_announce(self) -> list[tuple[RunRecord, int, bool]]:
        """Every finished run with an unannounced finish, oldest finish first: (run, finish number,
        announcement begun)."""
        rows = self._rows(
            "SELECT * FROM runs WHERE finished = 1 AND finish_count > announced_count ORDER BY finished_at"
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

    # --- channel settings and personal preferences ------------------------------------------------

    def channel_settings(self, channel: str) -> ChannelSettings:
        """The channel's settings (the defaults when none were set)."""
        rows = self._rows("SELECT * FROM channel_settings WHERE channel = ?", (channel,))
        if not rows:
            return ChannelSettings(channel=channel)
        repo, notify = rows[0]["default_repo"], rows[0]["notify"]
        return ChannelSettings(channel, default_repo=repo or None, notify=notify or "thread")

    def set_channel_settings(self, channel: str, *, user: str, now: float, **changes: Any) -> ChannelSettings:
        """Change a channel's `default_repo` (None clears it) and/or `notify`; returns the new settings."""
        with self._tx() as db:
            db["channel_settings"].upsert(
                {"channel": channel, **changes, "changed_by": user, "changed_at": now}, pk="channel"
            )
        return self.channel_settings(channel)

    def user_prefs(self, user: str) -> UserPrefs:
        """A person's preferences (the defaults when none were set)."""
        rows = self._rows("SELECT * FROM user_prefs WHERE user = ?", (user,))
        if not rows:
            return UserPrefs(user=user)
        row = rows[0]
        return UserPrefs(
            user=user,
            dm_on_finish=bool(row["dm_on_finish"]),
            default_repo=row["default_repo"] or None,
            default_model=row["default_model"] or None,
        )

    def set_user_prefs(self, user: str, **changes: Any) -> UserPrefs:
        """Change `dm_on_finish`, `default_repo` or `default_model` (None clears); returns the result."""
        if "dm_on_finish" in changes:
            changes["dm_on_finish"] = int(bool(changes["dm_on_finish"]))
        with self._tx() as db:
            db["user_prefs"].upsert({"user": user, **changes}, pk="user")
        return self.user_prefs(user)

    def runs_for_home(self, user: str, limit: int = 20) -> list[RunRecord]:
        """A user's runs for their App Home: working ones first, then the newest."""
        rows = self._rows(
            "SELECT * FROM runs WHERE requester = ? ORDER BY finished, created_at DESC, run_id DESC LIMIT ?",
            (user, limit),
        )
        return [_run_from_row(r) for r in rows]

    # --- retries -----------------------------------------------------------------------------------

    def has_request(self, key: str) -> bool:
        """Whether a request with this key was ever recorded."""
        return bool(self._rows("SELECT 1 FROM requests WHERE key = ?", (key,)))

    def create_request_for_run(self, run_id: int) -> Request | None:
        """The create request that became this run (its prompt, options and images)."""
        rows = self._rows(
            "SELECT * FROM requests WHERE kind = 'create' AND run_id = ? ORDER BY id LIMIT 1", (run_id,)
        )
        return _request_from_row(rows[0]) if rows else None

    # --- live progress ------------------------------------------------------------------------------

    def mark_card_shown(self, run: RunRecord, now: float) -> None:
        """The card now shows `run` as read; if its progress moved on since, it stays due for an edit."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET shown_status = ?,"
                " shown_at = CASE WHEN latest_step IS ? AND step_count = ? THEN ? END WHERE run_id = ?",
                (run.status, run.latest_step, run.step_count, now, run.run_id),
            )

    def count_active_runs(self) -> int:
        """How many runs are still working."""
        return self._rows("SELECT COUNT(*) AS n FROM runs WHERE finished = 0")[0]["n"]

    def runs_due_for_progress(self, now: float, limit: int = 50) -> list[RunRecord]:
        """Working runs whose latest step is due to be looked up, longest waiting first."""
        rows = self._rows(
            "SELECT * FROM runs WHERE finished = 0 AND COALESCE(next_progress_at, 0) <= ?"
            " ORDER BY COALESCE(next_progress_at, 0), run_id LIMIT ?",
            (now, limit),
        )
        return [_run_from_row(r) for r in rows]

    def next_progress_due(self) -> float | None:
        """When the next working run's steps are due to be looked up."""
        rows = self._rows("SELECT MIN(COALESCE(next_progress_at, 0)) AS t FROM runs WHERE finished = 0")
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def record_progress(
        self, run_id: int, *, next_at: float, step: str | None = None, count: int | None = None
    ) -> bool:
        """Write the run's latest step and step count; True (and its card due for an edit) on a change."""
        with self._tx() as db:
            rows = list(db.query("SELECT latest_step, step_count FROM runs WHERE run_id = ?", (run_id,)))
            if not rows:
                return False
            update: dict[str, Any] = {"next_progress_at": next_at}
            new_step = step if step is not None else rows[0]["latest_step"]
            new_count = count if count is not None else rows[0]["step_count"]
            changed = (new_step, new_count) != (rows[0]["latest_step"], rows[0]["step_count"])
            if changed:
                update.update(latest_step=new_step, step_count=new_count, shown_at=None)
            db["runs"].update(run_id, update)
        return changed

    # --- finish DMs ---------------------------------------------------------------------------------

    def finish_dm_sent(self, run_id: int, finish: int) -> bool:
        """Whether the requester was already sent a DM about finish number `finish` of this run."""
        rows = self._rows("SELECT dm_finish FROM runs WHERE run_id = ?", (run_id,))
        return bool(rows) and rows[0]["dm_finish"] >= finish

    def mark_finish_dm_sent(self, run_id: int, finish: int) -> None:
        """The requester has been sent a DM about finish number `finish`."""
        with self._tx() as db:
            db["runs"].update(run_id, {"dm_finish": finish})

    # --- images waiting to be downloaded ------------------------------------------------------------

    def requests_fetching_files(self, now: float, limit: int = 20) -> list[Request]:
        """Requests whose Slack images are due to be downloaded, oldest first."""
        rows = self._rows(
            "SELECT * FROM requests WHERE state = 'fetching' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [_request_from_row(r) for r in rows]

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

    def announcement_due(self, run_id: int) -> bool:
        """Whether a finish of the run is still to be announced in Slack."""
        rows = self._rows(
            "SELECT finish_count > announced_count AS due FROM runs WHERE run_id = ?", (run_id,)
        )
        return bool(rows and rows[0]["due"])

    def wake_resumes_of_paused_runs(self, now: float) -> None:
        """Make the waiting resumes of every finished run due now (at start: the finish that the last
        process recorded may not have woken them before it stopped)."""
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET next_attempt_at = ? WHERE kind = 'resume' AND state = 'pending'"
                " AND run_id IN (SELECT run_id FROM runs WHERE finished = 1)",
                (now,),
            )

    @staticmethod
    def _options(db: sqlite_utils.Database, request_id: int) -> dict[str, Any]:
        rows = list(db.query("SELECT options FROM requests WHERE id = ?", (request_id,)))
        return json.loads(rows[0]["options"] or "{}") if rows else {}

    @classmethod
    def _add_step(cls, db: sqlite_utils.Database, request_id: int, step: str) -> bool:
        """Add `step` to the request's noted steps (inside a transaction); False when it was there."""
        options = cls._options(db, request_id)
        steps = options.setdefault("steps", [])
        if step in steps:
            return False
        steps.append(step)
        db["requests"].update(request_id, {"options": json.dumps(options)})
        return True

    # --- the watcher: many runs at a time -------------------------------------------------------------

    def watched_runs(self, page_size: int = 100) -> list[WatchedRun]:
        """Every working run, newest first, with when it is due, since when it has been quiet, and how
        many stored runs (working or not) are newer. Depths are counted down to `page_size` times one
        more than the number of working runs: a run deeper than that is cheaper to fetch by itself
        than by paging, however deep it is, and gets that depth."""
        working = self._rows(
            "SELECT run_id, COALESCE(next_check_at, 0) AS next_check_at,"
            " MAX(COALESCE(changed_at, 0), COALESCE(created_at, 0)) AS quiet_since"
            " FROM runs WHERE finished = 0 ORDER BY run_id DESC"
        )
        cap = page_size * (len(working) + 1)
        depths = self._rows(
            "SELECT run_id, depth FROM (SELECT run_id, finished,"
            " ROW_NUMBER() OVER (ORDER BY run_id DESC) - 1 AS depth FROM ("
            " SELECT run_id, finished FROM runs WHERE run_id >= ? ORDER BY run_id DESC LIMIT ?))"
            " WHERE finished = 0",
            (working[-1]["run_id"] if working else 0, cap),
        )
        depth = {row["run_id"]: row["depth"] for row in depths}
        return [WatchedRun(**row, depth=depth.get(row["run_id"], cap)) for row in working]

    def record_checks(self, checks: list[StatusCheck], now: float) -> list[int]:
        """Write what status checks saw, in one transaction; returns the ids of the runs where
        something a user would see changed (those are next due at `next_check_if_changed`)."""
        changed: list[int] = []
        if not checks:
            return changed
        with self._tx() as db:
            ids = [check.run_id for check in checks]
            marks = ",".join("?" * len(ids))
            found = db.query(f"SELECT * FROM runs WHERE run_id IN ({marks})", ids)
            rows = {row["run_id"]: row for row in found}
            quiet: list[tuple[float, float, int]] = []
            for check in checks:
                row = rows.get(check.run_id)
                if row is None:
                    continue
                update = self._check_changes(row, check, now)
                if update is None:
                    quiet.append((now, check.next_check_at, check.run_id))
                else:
                    db["runs"].update(check.run_id, update)
                    changed.append(check.run_id)
            db.conn.executemany("UPDATE runs SET checked_at = ?, next_check_at = ? WHERE run_id = ?", quiet)
        return changed

    @staticmethod
    def _check_changes(row: dict[str, Any], check: StatusCheck, now: float) -> dict[str, Any] | None:
        """The columns to write when `check` saw a change a user would notice, else None."""
        old = _run_from_row(row)
        new = replace(
            old,
            status=check.status or old.status,
            result=check.result if check.result is not None else old.result,
            summary=check.summary if check.summary is not None else old.summary,
            web_url=check.web_url or old.web_url,
            pull_requests=check.pull_requests if check.pull_requests is not None else old.pull_requests,
        )
        if new == old:
            return None
        update: dict[str, Any] = {
            "checked_at": now,
            "next_check_at": check.next_check_if_changed or check.next_check_at,
            "status": new.status,
            "result": new.result,
            "summary": new.summary,
            "web_url": new.web_url,
            "pull_requests": json.dumps([vars(p) for p in new.pull_requests]),
            "changed_at": now,
            "finished": int(new.finished),
        }
        if new.finished and not old.finished:
            update["finished_at"] = now
            update["finish_count"] = row["finish_count"] + 1
        elif old.finished and not new.finished:
            update["finished_at"] = None
        return update

    # --- the create queue ---------------------------------------------------------------------------

    def queue_head(self, kind: RequestKind, limit: int) -> list[Request]:
        """The first `limit` pending requests of a kind, in queue order (oldest first)."""
        rows = self._rows(
            "SELECT * FROM requests WHERE state = 'pending' AND kind = ? ORDER BY id LIMIT ?", (kind, limit)
        )
        return [_request_from_row(r) for r in rows]

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
        return [(_request_from_row(r), r["position"]) for r in rows]

    def next_due_request(self, kind: RequestKind) -> float | None:
        """When the earliest pending request of a kind is due (None when none is pending)."""
        rows = self._rows(
            "SELECT MIN(next_attempt_at) AS t FROM requests WHERE state = 'pending' AND kind = ?", (kind,)
        )
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def count_runs_created_since(self, since: float) -> int:
        """How many runs the bot has started since `since` (to refill the create limiter after a restart)."""
        return self._rows("SELECT COUNT(*) AS n FROM runs WHERE created_at >= ?", (since,))[0]["n"]
