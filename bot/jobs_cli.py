"""`codegen-slack jobs` (dead and retrying jobs) and `codegen-slack jobs retry ID` (run one again)."""

from __future__ import annotations

import argparse
import time

from storage.dialect import no_database_at
from storage.records import Job, JobStatus
from storage.store import StorageError, Store

LISTED = (JobStatus.DEAD, JobStatus.RETRYING)
ERROR_CHARS = 80


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `jobs [retry ID]` to the command line."""
    jobs = sub.add_parser("jobs", help="list dead and retrying background jobs, or run one again")
    actions = jobs.add_subparsers(dest="action")
    retry = actions.add_parser("retry", help="run a dead or retrying job again now, with no attempts counted")
    retry.add_argument("id", type=int, help="the job's id, as `codegen-slack jobs` lists it")


def run(args: argparse.Namespace, db_path: str) -> int:
    """List or retry; prints what it did. 0 on success, 1 when the job is not dead or retrying, 2
    when there is no database at `db_path` or it cannot be opened."""
    store = open_store(db_path)
    if store is None:
        return 2
    try:
        if args.action == "retry":
            if not store.retry_job(args.id, time.time()):
                print(f"No dead or retrying job has id {args.id}; `codegen-slack jobs` lists them.")
                return 1
            print(f"Job {args.id} is queued again; a running bot takes it within 30 seconds.")
            return 0
        print(job_table(store.jobs_in(LISTED), time.time()))
        return 0
    finally:
        store.close()


def open_store(db_path: str) -> Store | None:
    """The bot's database at `db_path` for a command; None (and why, printed) when there is none or
    it cannot be opened."""
    if no_database_at(db_path):
        print(f"There is no database at {db_path}: check CODEGEN_SLACK_DB (where `serve` keeps its data).")
        return None
    try:
        return Store(db_path)
    except StorageError as exc:
        print(f"codegen-slack cannot open its database: {exc}")
        return None


def job_table(jobs: list[Job], now: float) -> str:
    """Dead and retrying jobs as a text table, most recently changed first."""
    if not jobs:
        return "No dead or retrying jobs."
    rows = [("id", "kind", "status", "attempts", "changed", "about", "last error")]
    for job in jobs:
        about = (
            f"request {job.request_id}" if job.request_id else f"run {job.run_id}" if job.run_id else job.key
        )
        error = " ".join((job.last_error or "").split())
        rows.append(
            (
                str(job.id),
                job.kind,
                job.status.value,
                str(job.attempts),
                _age(now - job.updated_at),
                about,
                error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines) + "\n\n`codegen-slack jobs retry ID` runs one again."


def _age(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 60:
        return f"{minutes}m ago"
    return f"{minutes // 60}h {minutes % 60}m ago" if minutes < 1440 else f"{minutes // 1440}d ago"
