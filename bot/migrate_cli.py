"""`codegen-slack migrate-db --to postgresql://…`: move everything from the SQLite file in
CODEGEN_SLACK_DB into a PostgreSQL database, then point CODEGEN_SLACK_DB at it."""

from __future__ import annotations

import argparse
import os

from storage.copy import copy_rows
from storage.dialect import describe_database, is_postgresql_url, no_database_at
from storage.file_lock import is_locked
from storage.leases import MIGRATED_FROM, MIGRATED_TO
from storage.store import StorageError, Store


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `migrate-db --to URL` to the command line."""
    migrate = sub.add_parser(
        "migrate-db", help="copy every thread, run, job and setting from SQLite into PostgreSQL"
    )
    target = migrate.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="URL", help="the PostgreSQL database: postgresql://…")
    target.add_argument(
        "--release", action="store_true", help="let serve use the SQLite file again after a move (to go back)"
    )


def run(args: argparse.Namespace, source: str) -> int:
    """Copy; prints what it did per table. 0 when all is copied, 1 when the copy failed (run it
    again: rows already copied are kept), 2 when it cannot start (bad target, no source, or a bot
    is using the source, or the target holds another bot's data)."""
    if args.release:
        return _release(source)
    if not is_postgresql_url(args.to):
        print("--to must be a PostgreSQL URL: postgresql://user:password@host:5432/dbname")
        return 2
    if is_postgresql_url(source):
        print("CODEGEN_SLACK_DB must name the SQLite file to copy from, not a PostgreSQL database.")
        return 2
    if no_database_at(source):
        print(f"There is no SQLite database at {source} (CODEGEN_SLACK_DB) to copy from.")
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
        refusal = _refusal(origin, target, args.to)
        if refusal:
            print(refusal)
            return 2
        target.set_marker(MIGRATED_FROM, _identity(source))  # before the copy: a rerun is recognised
        copies = copy_rows(origin, target)
        origin.set_marker(MIGRATED_TO, describe_database(args.to))
    except StorageError as exc:
        print(f"The copy stopped: {exc}\nRun migrate-db again: rows copied so far are kept, none is doubled.")
        return 1
    finally:
        origin.close()
        target.close()
    for copy in copies:
        print(f"{copy.table}: {copy.rows} row(s), {copy.added} new in {describe_database(args.to)}")
    print(f"Done. Set CODEGEN_SLACK_DB={describe_database(args.to)} (with its password) and start the bot.")
    print(
        f"{source} is kept as a backup; serve refuses it from now on, since it would repeat the bot's work."
    )
    return 0


def _identity(source: str) -> str:
    return os.path.realpath(source)


def _refusal(origin: Store, target: Store, url: str) -> str | None:
    """Why copying `origin` into `target` must not start (None: it may)."""
    came_from = target.marker(MIGRATED_FROM)
    if came_from is not None and came_from != _identity(origin.path):
        where = describe_database(url)
        return f"{where} already holds the data copied from {came_from}; copy into a new database."
    if came_from is None and target.holds_data():
        where = describe_database(url)
        return f"{where} already holds a bot's data; migrate-db copies into a new, empty database."
    return None


def _release(source: str) -> int:
    """Remove the marker that keeps serve off a SQLite file whose data was moved."""
    if is_postgresql_url(source) or no_database_at(source):
        print(f"There is no SQLite database at {describe_database(source)} (CODEGEN_SLACK_DB).")
        return 2
    store = Store(source)
    try:
        store.set_marker(MIGRATED_TO, None)
    finally:
        store.close()
    print(f"serve may use {source} again. Point no other bot at the PostgreSQL copy meanwhile.")
    return 0
