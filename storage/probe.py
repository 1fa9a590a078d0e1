"""A look at a database without changing it, for `codegen-slack check`: does it answer, which schema
version it has, and whether it takes a write (made, then rolled back)."""

from __future__ import annotations

import sqlite3

import psycopg
import sqlite_utils
from psycopg.rows import dict_row

from storage.database import DB_ERRORS, StorageError
from storage.dialect import describe_database, is_postgresql_url
from storage.schema import read_version, write_version
from storage.tx import PgTx, SqliteTx

CONNECT_TIMEOUT_SECONDS = 5


def probe(target: str) -> int:
    """The schema version of the database at `target` (a SQLite file that exists, or a PostgreSQL
    URL), after a write that is rolled back. Raises StorageError, naming the database without its
    password, when it cannot be reached, read or written."""
    try:
        if is_postgresql_url(target):
            with (
                psycopg.connect(
                    target, connect_timeout=CONNECT_TIMEOUT_SECONDS, row_factory=dict_row
                ) as conn,
                conn.transaction(force_rollback=True),
            ):
                tx = PgTx(conn)
                version = read_version(tx)
                write_version(tx, version)
            return version
        conn = sqlite3.connect(target, isolation_level=None, timeout=10)
        try:
            tx = SqliteTx(sqlite_utils.Database(conn))
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = read_version(tx)
                write_version(tx, version)
            finally:
                conn.execute("ROLLBACK")
            return version
        finally:
            conn.close()
    except DB_ERRORS as exc:
        raise StorageError(f"{describe_database(target)}: {exc}") from None
