"""The database schema, the same on SQLite and PostgreSQL: the baseline (version 5) in portable DDL,
and every later migration, each applied in its own transaction and recorded as the schema version
(SQLite's PRAGMA user_version; a one-row `schema_version` table on PostgreSQL).

Older SQLite files reach the baseline through storage.schema_legacy first.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import sqlite_utils

from storage.schema_legacy import LEGACY_MIGRATIONS
from storage.tx import Tx

BASELINE_VERSION = len(LEGACY_MIGRATIONS)
BASELINE = [
    """CREATE TABLE requests (
        id {serial_pk}, key TEXT NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL,
        thread_ts TEXT DEFAULT '', "user" TEXT NOT NULL, prompt TEXT NOT NULL, options TEXT, images TEXT,
        run_id {integer}, state TEXT NOT NULL DEFAULT 'pending', attempts {integer} DEFAULT 0,
        next_attempt_at {real} DEFAULT 0.0, status_ts TEXT, error TEXT, created_at {real}, notice TEXT)""",
    "CREATE UNIQUE INDEX idx_requests_key ON requests (key)",
    "CREATE INDEX idx_requests_state_kind_next_attempt_at ON requests (state, kind, next_attempt_at)",
    'CREATE INDEX idx_requests_user_kind_created_at ON requests ("user", kind, created_at)',
    """CREATE TABLE runs (
        run_id {int_pk}, channel TEXT, thread_ts TEXT, requester TEXT, prompt TEXT, status TEXT,
        repo TEXT, model TEXT, web_url TEXT, result TEXT, summary TEXT, pull_requests TEXT,
        status_ts TEXT, created_at {real}, changed_at {real}, checked_at {real}, next_check_at {real},
        finished_at {real}, finished {integer} DEFAULT 0, shown_status TEXT, shown_at {real},
        finish_count {integer} DEFAULT 0, announced_count {integer} DEFAULT 0,
        announcing {integer} DEFAULT 0, latest_step TEXT, step_count {integer} NOT NULL DEFAULT 0,
        next_progress_at {real}, dm_finish {integer} NOT NULL DEFAULT 0)""",
    "CREATE INDEX idx_runs_finished_next_check_at ON runs (finished, next_check_at)",
    "CREATE INDEX idx_runs_finished_next_progress_at ON runs (finished, next_progress_at)",
    "CREATE INDEX idx_runs_requester_created_at ON runs (requester, created_at)",
    "CREATE INDEX runs_unannounced ON runs (finished_at) WHERE finish_count > announced_count",
    "CREATE INDEX runs_unshown ON runs (changed_at) WHERE shown_status IS NULL OR shown_status != status",
    """CREATE TABLE threads (channel TEXT, thread_ts TEXT, run_id {integer},
        PRIMARY KEY (channel, thread_ts))""",
    """CREATE TABLE channel_settings (channel TEXT PRIMARY KEY, default_repo TEXT, notify TEXT,
        changed_by TEXT, changed_at {real})""",
    """CREATE TABLE user_prefs ("user" TEXT PRIMARY KEY, dm_on_finish {integer} DEFAULT 0,
        default_repo TEXT, default_model TEXT)""",
    """CREATE TABLE homes ("user" TEXT PRIMARY KEY, opened_at {real}, published_at {real},
        due {integer} DEFAULT 0)""",
    "CREATE INDEX idx_homes_due_published_at ON homes (due, published_at)",
    """CREATE TABLE jobs (
        id {serial_pk}, kind TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,
        priority {integer} DEFAULT 5, request_id {integer}, run_id {integer}, resource TEXT, payload TEXT,
        attempts {integer} DEFAULT 0, run_after {real}, lease_until {real}, again {integer} DEFAULT 0,
        last_error TEXT, created_at {real}, updated_at {real})""",
    "CREATE UNIQUE INDEX idx_jobs_key ON jobs (key)",
    "CREATE INDEX jobs_due ON jobs (priority, run_after) WHERE status IN ('queued', 'retrying')",
    "CREATE INDEX idx_jobs_status_updated_at ON jobs (status, updated_at)",
    "CREATE TABLE steps (request_id {integer}, step TEXT, PRIMARY KEY (request_id, step))",
]


def _v6(tx: Tx) -> None:
    """Leases shared by replicas (the leader's, with the rate-limit state it hands over), and which
    process holds each running job's lease."""
    tx.execute(
        tx.dialect.ddl("CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT, until {real}, state TEXT)")
    )
    tx.execute("ALTER TABLE jobs ADD COLUMN lease_owner TEXT")


def _v7(tx: Tx) -> None:
    """The audit trail (storage/audit.py): one row per decision, kept for the configured retention."""
    tx.execute(
        tx.dialect.ddl(
            "CREATE TABLE audit (id {serial_pk}, at {real} NOT NULL, actor TEXT NOT NULL,"
            " action TEXT NOT NULL, team TEXT, channel TEXT, run_id {integer}, request_id {integer},"
            " outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')"
        )
    )
    tx.execute("CREATE INDEX audit_at ON audit (at)")


def _v8(tx: Tx) -> None:
    """The Codegen organization's members as last fetched, shared by replicas (storage/members.py)."""
    tx.execute(
        tx.dialect.ddl(
            "CREATE TABLE codegen_members (email TEXT PRIMARY KEY, fields TEXT, fetched_at {real})"
        )
    )


def _v9(tx: Tx) -> None:
    """Who muted a run's thread, how each channel takes plain thread replies, and each run's agent
    session as Slack last showed it (status and loading text)."""
    for statement in (
        "CREATE TABLE thread_mutes (channel TEXT NOT NULL, thread_ts TEXT NOT NULL, muted_by TEXT NOT NULL,"
        " muted_at {real} NOT NULL, PRIMARY KEY (channel, thread_ts))",
        "CREATE TABLE channel_follow_ups (channel TEXT PRIMARY KEY, mode TEXT NOT NULL,"
        " changed_by TEXT, changed_at {real})",
        "CREATE TABLE agent_sessions (run_id {int_pk}, status TEXT, loading TEXT, changed_at {real})",
    ):
        tx.execute(tx.dialect.ddl(statement))


def _v10(tx: Tx) -> None:
    """Watch rules (alerts and CI posts that start runs) with the messages they matched, and schedules
    (recurring runs) with the time each fires next."""
    for statement in (
        "CREATE TABLE watch_rules (id {serial_pk}, channel TEXT NOT NULL, pattern TEXT NOT NULL,"
        " source TEXT, repo TEXT, template TEXT, created_by TEXT NOT NULL, created_at {real})",
        "CREATE INDEX watch_rules_channel ON watch_rules (channel)",
        "CREATE TABLE watch_matches (id {serial_pk}, rule_id {integer} NOT NULL,"
        " channel TEXT NOT NULL, message_ts TEXT NOT NULL, fingerprint TEXT NOT NULL,"
        " outcome TEXT NOT NULL, first_ts TEXT, created_at {real} NOT NULL)",
        "CREATE UNIQUE INDEX watch_matches_message ON watch_matches (channel, message_ts)",
        "CREATE INDEX watch_matches_rule ON watch_matches (rule_id, outcome, created_at)",
        "CREATE INDEX watch_matches_alert ON watch_matches (channel, fingerprint, created_at)",
        "CREATE TABLE schedules (id {serial_pk}, channel TEXT NOT NULL, cron TEXT NOT NULL,"
        " tz TEXT NOT NULL, prompt TEXT NOT NULL, repo TEXT, model TEXT, created_by TEXT NOT NULL,"
        " created_at {real}, next_fire_at {real} NOT NULL, paused {integer} NOT NULL DEFAULT 0)",
        "CREATE INDEX schedules_due ON schedules (paused, next_fire_at)",
    ):
        tx.execute(tx.dialect.ddl(statement))


def _v11(tx: Tx) -> None:
    """What the bot did to runs' pull requests; prompts sent to several repositories (one parent
    message, one create request per repository); and the agent type a channel or person defaults to."""
    for statement in (
        "CREATE TABLE pr_states (run_id {integer} NOT NULL, pr_id {integer} NOT NULL, state TEXT,"
        " checks_stopped {integer} NOT NULL DEFAULT 0, removed {integer} NOT NULL DEFAULT 0,"
        " changed_by TEXT, changed_at {real}, PRIMARY KEY (run_id, pr_id))",
        "CREATE TABLE pr_actions (key TEXT PRIMARY KEY, run_id {integer} NOT NULL, pr_id {integer} NOT NULL,"
        " action TEXT NOT NULL, actor TEXT NOT NULL, done_at {real} NOT NULL)",
        "CREATE TABLE prompt_groups (id {serial_pk}, key TEXT NOT NULL UNIQUE,"
        " channel TEXT NOT NULL, requester TEXT NOT NULL, prompt TEXT NOT NULL, patterns TEXT NOT NULL,"
        " options TEXT NOT NULL, status_ts TEXT, shown TEXT, summary_ts TEXT, closed {integer} NOT NULL"
        " DEFAULT 0, created_at {real} NOT NULL)",
        "CREATE TABLE prompt_group_members (group_id {integer} NOT NULL, request_id {integer} NOT NULL,"
        " repo TEXT NOT NULL, position {integer} NOT NULL, PRIMARY KEY (group_id, request_id))",
        "CREATE INDEX prompt_group_members_request ON prompt_group_members (request_id)",
        "CREATE TABLE agent_type_defaults (scope TEXT NOT NULL, owner TEXT NOT NULL,"
        " agent_type TEXT NOT NULL, PRIMARY KEY (scope, owner))",
    ):
        tx.execute(tx.dialect.ddl(statement))


def _v12(tx: Tx) -> None:
    """Rate-limit slots that every replica's calls count against together (storage/slots.py)."""
    tx.execute(
        tx.dialect.ddl("CREATE TABLE rate_slots (id {serial_pk}, name TEXT NOT NULL, at {real} NOT NULL)")
    )
    tx.execute("CREATE INDEX rate_slots_name_at ON rate_slots (name, at)")


# Version BASELINE_VERSION + 1 onwards.
MIGRATIONS: list[Callable[[Tx], None]] = [_v6, _v7, _v8, _v9, _v10, _v11, _v12]
LATEST_VERSION = BASELINE_VERSION + len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was written by a newer version of the bot, whose schema this one does not know."""


def read_version(tx: Tx) -> int:
    """The schema version recorded in the database (0: a new, empty database)."""
    if tx.dialect.name == "sqlite":
        return int(tx.query("PRAGMA user_version")[0]["user_version"])
    if tx.query("SELECT to_regclass('schema_version') AS t")[0]["t"] is None:
        return 0
    rows = tx.query("SELECT version FROM schema_version")
    return int(rows[0]["version"]) if rows else 0


def write_version(tx: Tx, version: int) -> None:
    """Record `version` as the schema version, inside `tx`."""
    if tx.dialect.name == "sqlite":
        tx.execute(f"PRAGMA user_version = {int(version)}")
        return
    tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
    tx.execute("DELETE FROM schema_version")
    tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))


def migrate(
    begin: Callable[[], AbstractContextManager[Tx]], *, legacy: sqlite_utils.Database | None = None
) -> int:
    """Bring the schema up to date, one transaction (from `begin()`) per step; returns the version.
    `legacy` is the SQLite database, for files older than the baseline.

    Raises SchemaTooNew (and changes nothing) for a database from a newer version."""
    with begin() as tx:
        version = read_version(tx)
    if version > LATEST_VERSION:
        raise SchemaTooNew(
            f"it has schema version {version}, written by a newer codegen-slack; this one knows versions "
            f"up to {LATEST_VERSION}. Run the newer version, or restore a backup made before the upgrade"
        )
    if version == 0:
        with begin() as tx:
            for statement in BASELINE:
                tx.execute(tx.dialect.ddl(statement))
            write_version(tx, BASELINE_VERSION)
        version = BASELINE_VERSION
    for number in range(version + 1, BASELINE_VERSION + 1):  # an old SQLite file
        assert legacy is not None, "only SQLite files predate the baseline"
        with begin() as tx:
            LEGACY_MIGRATIONS[number - 1](legacy)
            write_version(tx, number)
    for number in range(max(version, BASELINE_VERSION) + 1, LATEST_VERSION + 1):
        with begin() as tx:
            MIGRATIONS[number - BASELINE_VERSION - 1](tx)
            write_version(tx, number)
    return LATEST_VERSION
