"""`codegen-slack backup PATH`: a consistent copy of the database, taken while the bot runs."""

from __future__ import annotations

import os
import sqlite3

from storage.dialect import describe_database, is_postgresql_url


def backup(database: str, target: str) -> tuple[bool, str]:
    """Copy `database` into the new file `target` with SQLite's `VACUUM INTO` (one transaction, so
    the copy is consistent even while the bot writes; WAL contents included). Returns (done, the
    line to print). Never overwrites: an existing `target` is refused. A PostgreSQL database is
    backed up with PostgreSQL's own tools, which the line names."""
    if is_postgresql_url(database):
        return False, (
            f"{describe_database(database)} is a PostgreSQL database: back it up with pg_dump "
            "(README: Run several replicas → Backups)"
        )
    if not os.path.isfile(database):
        return False, f"there is no database at {database} (CODEGEN_SLACK_DB)"
    try:  # created empty first, so that the copy is as private as the database (mode 0600)
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False, f"{target} already exists; give the path of a new file"
    except OSError as exc:
        return False, f"cannot create {target} ({exc.strerror})"
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("VACUUM INTO ?", (target,))
    except sqlite3.Error as exc:
        os.remove(target)
        return False, f"the backup to {target} failed: {exc}"
    finally:
        conn.close()
    return True, f"backed up {database} to {target} ({os.path.getsize(target)} bytes)"
