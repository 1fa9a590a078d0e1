"""The database schema and its migrations, applied in order and recorded in PRAGMA user_version."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    """Threads, runs, requests (creates and resumes) and processed Slack events."""
    db["events"].create({"key": str, "seen_at": float}, pk="key")
    db["requests"].create(
        {
            "id": int,
            "key": str,
            "kind": str,
            "channel": str,
            "thread_ts": str,
            "user": str,
            "prompt": str,
            "options": str,
            "images": str,
            "run_id": int,
            "state": str,
            "attempts": int,
            "next_attempt_at": float,
            "status_ts": str,
            "error": str,
            "created_at": float,
            "notice": str,
        },
        pk="id",
        not_null={"key", "kind", "channel", "user", "prompt", "state"},
        defaults={"state": "pending", "attempts": 0, "next_attempt_at": 0.0, "thread_ts": ""},
    )
    db["requests"].create_index(["key"], unique=True)
    db["requests"].create_index(["state", "kind", "next_attempt_at"])
    db["runs"].create(
        {
            "run_id": int,
            "channel": str,
            "thread_ts": str,
            "requester": str,
            "prompt": str,
            "status": str,
            "repo": str,
            "model": str,
            "web_url": str,
            "result": str,
            "summary": str,
            "pull_requests": str,
            "status_ts": str,
            "created_at": float,
            "changed_at": float,
            "checked_at": float,
            "next_check_at": float,
            "finished_at": float,
            "finished": int,
            "shown_status": str,
            "shown_at": float,
            "finish_count": int,
            "announced_count": int,
            "announcing": int,
        },
        pk="run_id",
        defaults={"finished": 0, "finish_count": 0, "announced_count": 0, "announcing": 0},
    )
    db["runs"].create_index(["finished", "next_check_at"])
    db["runs"].create_index(["requester", "created_at"])
    db["threads"].create({"channel": str, "thread_ts": str, "run_id": int}, pk=("channel", "thread_ts"))


def _v2(db: sqlite_utils.Database) -> None:
    """Channel settings, user preferences, each run's live progress and its finish DM."""
    db["channel_settings"].create(
        {"channel": str, "default_repo": str, "notify": str, "changed_by": str, "changed_at": float},
        pk="channel",
    )
    db["user_prefs"].create(
        {"user": str, "dm_on_finish": int, "default_repo": str, "default_model": str},
        pk="user",
        defaults={"dm_on_finish": 0},
    )
    db["runs"].add_column("latest_step", str)
    db["runs"].add_column("step_count", int, not_null_default=0)
    db["runs"].add_column("next_progress_at", float)
    db["runs"].add_column("dm_finish", int, not_null_default=0)
    db["runs"].create_index(["finished", "next_progress_at"])


def _v3(db: sqlite_utils.Database) -> None:
    """Who has opened the App Home, and whether theirs shows runs that changed since it was published."""
    db["homes"].create(
        {"user": str, "opened_at": float, "published_at": float, "due": int}, pk="user", defaults={"due": 0}
    )
    db["homes"].create_index(["due", "published_at"])


def _v4(db: sqlite_utils.Database) -> None:
    """Indexes of the few runs Slack still has to show, so looking for them costs the same however
    many finished runs are stored (a full scan of 100,000 took about 25 ms, several times a second
    while status messages catch up with a burst of finishes); and of each person's requests, counted
    for the hourly cap before a command is acknowledged."""
    db["requests"].create_index(["user", "kind", "created_at"])
    db.execute("CREATE INDEX runs_unannounced ON runs (finished_at) WHERE finish_count > announced_count")
    db.execute(
        "CREATE INDEX runs_unshown ON runs (changed_at) WHERE shown_status IS NULL OR shown_status != status"
    )


def _v5(db: sqlite_utils.Database) -> None:
    """Jobs (every effect still owed, with status, attempts and lease) and the crash-safety steps of
    requests, which lived in the requests' options JSON; the work pending at the upgrade becomes jobs.
    The table of Slack delivery ids goes."""
    db["jobs"].create(
        {
            "id": int,
            "kind": str,
            "key": str,
            "status": str,
            "priority": int,
            "request_id": int,
            "run_id": int,
            "resource": str,
            "payload": str,
            "attempts": int,
            "run_after": float,
            "lease_until": float,
            "again": int,
            "last_error": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
        not_null={"kind", "key", "status"},
        defaults={"attempts": 0, "again": 0, "priority": 5},
    )
    db["jobs"].create_index(["key"], unique=True)
    db.execute("CREATE INDEX jobs_due ON jobs (priority, run_after) WHERE status IN ('queued', 'retrying')")
    db["jobs"].create_index(["status", "updated_at"])
    db["steps"].create({"request_id": int, "step": str}, pk=("request_id", "step"))
    db.execute(
        "INSERT INTO steps (request_id, step) SELECT requests.id, value"
        " FROM requests, json_each(requests.options, '$.steps')"
    )
    _v5_pending_work(db)
    db["events"].drop()  # a redelivery is now recognised by its request's key, in the same transaction


def _v5_pending_work(db: sqlite_utils.Database) -> None:
    """Jobs for what an older version still had to do: pending requests, unannounced finishes, cards
    not yet showing their run's status, working runs and out-of-date Home tabs."""
    from storage import job_kinds as k

    for r in db.query(
        "SELECT id, kind, state, next_attempt_at FROM requests WHERE state IN ('pending', 'fetching')"
    ):
        k.arm_request(
            db, r["kind"], r["id"], now=r["next_attempt_at"] or 0.0, fetching=r["state"] == "fetching"
        )
    for r in db.query("SELECT run_id, channel, finish_count FROM runs WHERE finish_count > announced_count"):
        k.arm_announcement(db, r["run_id"], r["finish_count"], now=0.0, channel=r["channel"])
    for r in db.query(
        "SELECT run_id FROM runs WHERE status_ts IS NOT NULL"
        " AND (shown_status IS NULL OR shown_status != status)"
    ):
        k.arm_card(db, r["run_id"], now=0.0)
    for r in db.query("SELECT run_id FROM runs WHERE finished = 0"):
        k.arm_watching(db, r["run_id"], now=0.0)
    for r in db.query("SELECT user FROM homes WHERE due = 1"):
        k.arm_home(db, r["user"], now=0.0, not_before=0.0)


def _v6_workflows(db: sqlite_utils.Database) -> None:
    """What the bot did to runs' pull requests; prompts sent to several repositories (one parent
    message, one create request per repository); and the agent type a channel or person defaults to."""
    db.execute(
        "CREATE TABLE pr_states (run_id INTEGER NOT NULL, pr_id INTEGER NOT NULL, state TEXT,"
        " checks_stopped INTEGER NOT NULL DEFAULT 0, removed INTEGER NOT NULL DEFAULT 0,"
        " changed_by TEXT, changed_at DOUBLE PRECISION, PRIMARY KEY (run_id, pr_id))"
    )
    db.execute(
        "CREATE TABLE pr_actions (key TEXT PRIMARY KEY, run_id INTEGER NOT NULL, pr_id INTEGER NOT NULL,"
        " action TEXT NOT NULL, actor TEXT NOT NULL, done_at DOUBLE PRECISION NOT NULL)"
    )
    db.execute(
        "CREATE TABLE prompt_groups (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
        " channel TEXT NOT NULL, requester TEXT NOT NULL, prompt TEXT NOT NULL, patterns TEXT NOT NULL,"
        " options TEXT NOT NULL, status_ts TEXT, shown TEXT, summary_ts TEXT, closed INTEGER NOT NULL"
        " DEFAULT 0, created_at DOUBLE PRECISION NOT NULL)"
    )
    db.execute(
        "CREATE TABLE prompt_group_members (group_id INTEGER NOT NULL, request_id INTEGER NOT NULL,"
        " repo TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (group_id, request_id))"
    )
    db.execute("CREATE INDEX prompt_group_members_request ON prompt_group_members (request_id)")
    db.execute(
        "CREATE TABLE agent_type_defaults (scope TEXT NOT NULL, owner TEXT NOT NULL,"
        " agent_type TEXT NOT NULL, PRIMARY KEY (scope, owner))"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6_workflows]


class SchemaTooNew(Exception):
    """The database was written by a newer version of the bot, whose schema this one does not know."""


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the schema up to date, one transaction per step; returns the version (needs autocommit).

    Raises SchemaTooNew (and changes nothing) for a database from a newer version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"it has schema version {version}, written by a newer codegen-slack; this one knows versions "
            f"up to {len(MIGRATIONS)}. Run the newer version, or restore a backup made before the upgrade"
        )
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return len(MIGRATIONS)
