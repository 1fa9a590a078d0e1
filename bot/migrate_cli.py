"""`codegen-slack migrate-db --to postgresql://…`: move everything from the SQLite file in
CODEGEN_SLACK_DB into a PostgreSQL database, then point CODEGEN_SLACK_DB at it."""

from __future__ import annotations

import argparse

from storage.copy import copy_rows
from storage.dialect import describe_database, is_postgresql_url, no_database_at
from storage.file_lock import is_locked
from storage.store import StorageError, Store


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `migrate-db --to URL` to the command line."""
    migrate = sub.add_parser(
        "migrate-db", help="copy every thread, run, job and setting from SQLite into PostgreSQL"
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="the PostgreSQL database: postgresql://…")


def run(args: argparse.Namespace, source: str) -> int:
    """Copy; prints what it did per table. 0 when all is copied, 1 when the copy failed (run it
    again: rows already copied are kept), 2 when it cannot start (bad target, no source, or a bot
    is using the source)."""
    if not is_postgresql_url(args.to):
        print("--to must be a PostgreSQL URL: postgresql://user:password@host:5432/dbname")
        return 2
    if is_postgresql_url(source) or no_database_at(source):
        print(f"CODEGEN_SLACK_DB ({describe_database(source)}) must name the SQLite file to copy from.")
        return 2
    if is_locked(source):
        print(
            f"A codegen-slack process is serving {source}: stop it first, so nothing changes during the copy."
        )
        return 2
    try:
        origin, target = Store(source), Store(args.to)
    except StorageError as exc:
        print(f"codegen-slack cannot open a database: {exc}")
        return 2
    try:
        copies = copy_rows(origin, target)
    except StorageError as exc:
        print(f"The copy stopped: {exc}\nRun migrate-db again: rows copied so far are kept, none is doubled.")
        return 1
    finally:
        origin.close()
        target.close()
    for copy in copies:
        print(f"{copy.table}: {copy.rows} row(s), {copy.added} new in {describe_database(args.to)}")
    print(f"Done. Set CODEGEN_SLACK_DB={describe_database(args.to)} (with its password) and start the bot.")
    return 0
