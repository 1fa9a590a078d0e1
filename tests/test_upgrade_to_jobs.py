"""A database from before the job core (schema v4) keeps its pending work: every pending request,
unannounced finish and card still to edit becomes a job, and crash-safety steps move with them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import sqlite_utils

from storage.records import JobStatus
from storage.schema_legacy import LEGACY_MIGRATIONS
from storage.store import Store


def a_v4_database(path: Path) -> None:
    """The schema of the release before the job core, holding work that release had still to do."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for number, step in enumerate(LEGACY_MIGRATIONS[:4], start=1):
        step(db)
        db.execute(f"PRAGMA user_version = {number}")
    db["requests"].insert_all(
        [
            {"id": 1, "key": "command:1", "kind": "create", "channel": "C0GENERAL", "user": "U0ALICE",
             "prompt": "fix it", "options": json.dumps({"steps": ["status_message"]}), "state": "pending",
             "next_attempt_at": 5.0, "created_at": 1.0},
            {"id": 2, "key": "message:C0GENERAL:2.0", "kind": "resume", "channel": "C0GENERAL",
             "user": "U0BOB", "prompt": "and the docs", "options": "{}", "state": "fetching", "run_id": 7,
             "created_at": 1.0},
            {"id": 3, "key": "command:3", "kind": "create", "channel": "C0GENERAL", "user": "U0ALICE",
             "prompt": "done long ago", "options": "{}", "state": "done", "created_at": 1.0},
        ]
    )  # fmt: skip
    db["runs"].insert(
        {"run_id": 7, "channel": "C0GENERAL", "thread_ts": "1.0", "requester": "U0ALICE", "prompt": "p",
         "status": "COMPLETE", "status_ts": "1.0", "finished": 1, "finish_count": 2, "announced_count": 1,
         "shown_status": "ACTIVE", "created_at": 1.0}
    )  # fmt: skip
    conn.close()


def test_pending_work_of_an_older_release_becomes_jobs(tmp_path: Path) -> None:
    a_v4_database(tmp_path / "bot.db")
    store = Store(str(tmp_path / "bot.db"))
    try:
        jobs = {job.key: job for job in store.jobs_in((JobStatus.QUEUED,), limit=100)}
        assert {"create:1", "images:2", "announce:7:2", "card:7"} <= set(jobs)
        assert "create:3" not in jobs  # done work stays done
        assert jobs["create:1"].run_after == 5.0 and jobs["announce:7:2"].payload == {"finish": 2}
        assert store.steps_of(1) == frozenset({"status_message"})  # an earlier post is looked for first
    finally:
        store.close()


def columns(path: Path) -> dict[str, set[tuple[str, int, object]]]:
    """Each table's columns: name, NOT NULL, default."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            table: {(c[1], c[3], c[4]) for c in conn.execute(f'PRAGMA table_info("{table}")')}
            for table in tables
        }
    finally:
        conn.close()


def test_an_upgraded_file_has_the_same_tables_as_a_new_one(tmp_path: Path) -> None:
    a_v4_database(tmp_path / "old.db")
    Store(str(tmp_path / "old.db")).close()
    Store(str(tmp_path / "new.db")).close()
    assert columns(tmp_path / "old.db") == columns(tmp_path / "new.db")
