"""Runs and the Slack threads they belong to, and the watcher's status checks of many runs at a time."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from typing import Any

from storage.agent_controls import supersede_stops
from storage.database import RESUMED_STEP, StoreBase
from storage.job_kinds import (
    HOME_MIN_INTERVAL_SECONDS,
    arm_announcement,
    arm_card,
    arm_home,
    arm_watching,
    wake_requests,
)
from storage.jobs import add_step
from storage.records import PullRequest, Request, RunRecord, StatusCheck, WatchedRun
from storage.rows import request_from_row, run_from_row
from storage.tx import Tx

# Replies waiting for the run that one create request (the parameter) is still making.
_FOLLOW_UPS_OF = (
    "state IN ('pending', 'fetching') AND kind = 'resume' AND run_id IS NULL"
    " AND json_extract(options, '$.after_create') = ?"
)


def _arm_homes(db: Tx, run_ids: list[int], now: float) -> None:
    """Republish the Home tabs (of those who opened theirs) that list these runs."""
    marks = ",".join("?" * len(run_ids))
    homes = db.query(
        'SELECT "user", published_at FROM homes WHERE "user" IN'
        f" (SELECT requester FROM runs WHERE run_id IN ({marks}))",
        run_ids,
    )
    for home in list(homes):
        arm_home(
            db, home["user"], now=now, not_before=(home["published_at"] or 0) + HOME_MIN_INTERVAL_SECONDS
        )


class RunStore(StoreBase):
    """Runs and threads: storing a run, finding it, and writing what its status checks saw."""

    # --- runs and threads ----------------------------------------------------------------------

    def add_run(self, run: RunRecord, *, request_id: int | None = None) -> None:
        """Store a new run, map its thread to it, and mark the request that made it done."""
        row = {f.name: getattr(run, f.name) for f in fields(RunRecord)}
        row["pull_requests"] = json.dumps([vars(p) for p in run.pull_requests])
        row["finished"] = int(run.finished)
        row["finish_count"] = int(run.finished)  # already finished (found after a crash): announce it
        row["next_check_at"] = run.created_at
        with self._tx() as db:
            db.upsert("runs", row, ["run_id"], replace=True)
            db.upsert(
                "threads",
                {"channel": run.channel, "thread_ts": run.thread_ts, "run_id": run.run_id},
                ["channel", "thread_ts"],
            )
            _arm_homes(db, [run.run_id], run.created_at)
            if run.status_ts and run.shown_status != run.status:
                arm_card(db, run.run_id, now=run.created_at)
            if run.finished:
                arm_announcement(db, run.run_id, 1, now=run.created_at, channel=run.channel)
            else:
                arm_watching(db, run.run_id, now=run.created_at)
            if request_id is not None:
                db.update("requests", {"id": request_id}, {"state": "done", "run_id": run.run_id})
                wake_requests(db, _FOLLOW_UPS_OF, (request_id,), run.created_at)
                db.execute(  # replies written in the thread while the run was being made
                    f"UPDATE requests SET run_id = ? WHERE {_FOLLOW_UPS_OF}", (run.run_id, request_id)
                )

    def count_runs_by_status(self) -> dict[str, int]:
        """How many runs the bot knows in each status."""
        rows = self._rows("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in rows}

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by Codegen id."""
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return run_from_row(rows[0]) if rows else None

    def create_for_thread(self, channel: str, thread_ts: str) -> Request | None:
        """The request still making the run of a Slack thread, if any."""
        return self._latest_create("state IN ('pending', 'fetching') AND thread_ts = ?", channel, thread_ts)

    def waiting_create_of(self, user: str, channel: str) -> Request | None:
        """`user`'s latest create request in `channel` still waiting for its run, if any."""
        return self._latest_create("state = 'pending' AND \"user\" = ?", channel, user)

    def _latest_create(self, condition: str, channel: str, value: str) -> Request | None:
        rows = self._rows(
            f"SELECT * FROM requests WHERE kind = 'create' AND channel = ? AND {condition}"
            " ORDER BY id DESC LIMIT 1",
            (channel, value),
        )
        return request_from_row(rows[0]) if rows else None

    def run_for_thread(self, channel: str, thread_ts: str) -> RunRecord | None:
        """The run that a Slack thread belongs to, if any."""
        rows = self._rows(
            "SELECT runs.* FROM threads JOIN runs USING (run_id)"
            " WHERE threads.channel = ? AND threads.thread_ts = ?",
            (channel, thread_ts),
        )
        return run_from_row(rows[0]) if rows else None

    def runs_for_user(self, user: str, limit: int = 10, channel: str | None = None) -> list[RunRecord]:
        """A user's most recent runs, newest first (optionally in one channel)."""
        sql = "SELECT * FROM runs WHERE requester = ?"
        params: tuple[Any, ...] = (user,)
        if channel:
            sql += " AND channel = ?"
            params += (channel,)
        rows = self._rows(sql + " ORDER BY created_at DESC, run_id DESC LIMIT ?", (*params, limit))
        return [run_from_row(r) for r in rows]

    def due_runs(self, now: float) -> list[RunRecord]:
        """Working runs whose next status check is due, oldest first."""
        rows = self._rows(
            "SELECT * FROM runs WHERE finished = 0 AND next_check_at <= ? ORDER BY run_id", (now,)
        )
        return [run_from_row(r) for r in rows]

    def next_check_due(self) -> float | None:
        """When the earliest working run is next due for a check."""
        rows = self._rows("SELECT MIN(next_check_at) AS t FROM runs WHERE finished = 0")
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

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
        given) gets its "resumed" step noted in the same transaction, and, unless it is a Stop, the
        run's ended Stops are superseded (it may be stopped anew)."""
        with self._tx() as db:
            if request_id is not None:
                add_step(db, request_id, RESUMED_STEP)
                supersede_stops(db, run_id, request_id)
            arm_watching(db, run_id, now=now)
            arm_card(db, run_id, now=now)
            db.update(
                "runs",
                {"run_id": run_id},
                {
                    "status": "ACTIVE",
                    "finished": 0,
                    "finished_at": None,
                    "changed_at": now,
                    "next_check_at": now,
                },
            )

    # --- the watcher: many runs at a time -------------------------------------------------------------

    def watched_runs(self, page_size: int = 100) -> list[WatchedRun]:
        """Every working run, newest first, with when it is due, since when it has been quiet, and how
        many stored runs (working or not) are newer. Depths are counted down to `page_size` times one
        more than the number of working runs: a run deeper than that is cheaper to fetch by itself
        than by paging, however deep it is, and gets that depth."""
        working = self._rows(
            "SELECT run_id, COALESCE(next_check_at, 0) AS next_check_at,"
            " CASE WHEN COALESCE(changed_at, 0) > COALESCE(created_at, 0) THEN COALESCE(changed_at, 0)"
            " ELSE COALESCE(created_at, 0) END AS quiet_since"
            " FROM runs WHERE finished = 0 ORDER BY run_id DESC"
        )
        cap = page_size * (len(working) + 1)
        depths = self._rows(
            "SELECT run_id, depth FROM (SELECT run_id, finished,"
            " ROW_NUMBER() OVER (ORDER BY run_id DESC) - 1 AS depth FROM ("
            " SELECT run_id, finished FROM runs WHERE run_id >= ? ORDER BY run_id DESC LIMIT ?) AS newest)"
            " AS ranked"
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
                    db.update("runs", {"run_id": check.run_id}, update)
                    self._arm_after_change(db, row, update, now)
                    changed.append(check.run_id)
            db.executemany("UPDATE runs SET checked_at = ?, next_check_at = ? WHERE run_id = ?", quiet)
            if changed:
                _arm_homes(db, changed, now)
        return changed

    @staticmethod
    def _arm_after_change(
        db: Tx, row: dict[str, Any], update: dict[str, Any], now: float
    ) -> None:
        """The jobs a change makes due: the card; on a finish its announcement and the run's waiting
        follow-ups (also on a move to another unfinished status, which may be one Codegen takes
        follow-ups in, like a pause for input); when it works again, its progress."""
        run_id = row["run_id"]
        if row["status_ts"]:
            arm_card(db, run_id, now=now)
        if update["finished"] and not row["finished"]:
            arm_announcement(db, run_id, update["finish_count"], now=now, channel=row["channel"])
            wake_requests(db, "kind = 'resume' AND run_id = ?", (run_id,), now)
        elif row["finished"] and not update["finished"]:
            arm_watching(db, run_id, now=now)
        if not update["finished"] and update["status"] != row["status"]:
            wake_requests(db, "kind = 'resume' AND run_id = ?", (run_id,), now)

    @staticmethod
    def _check_changes(row: dict[str, Any], check: StatusCheck, now: float) -> dict[str, Any] | None:
        """The columns to write when `check` saw a change a user would notice, else None."""
        old = run_from_row(row)
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
        if new.pull_requests != old.pull_requests:
            update["shown_at"] = None  # the card's PR buttons are due now, not at the next minute's refresh
        if new.finished and not old.finished:
            update["finished_at"] = now
            update["finish_count"] = row["finish_count"] + 1
        elif old.finished and not new.finished:
            update["finished_at"] = None
        return update
