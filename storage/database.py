"""The SQLite file under the store: opening it, serialised write transactions, reads, and what every part
of the store shares (the error it raises, the steps noted on a request)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from storage.schema import SchemaTooNew, migrate

RESUMED_STEP = "resumed"  # noted on a resume request once Codegen accepted its prompt


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


class StoreBase:
    """The connection and its lock, with the transaction and read helpers every part of the store uses."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._conn = _open(path)
            self._db = sqlite_utils.Database(self._conn)
            self.schema_version = migrate(self._db)
        except (sqlite3.Error, SchemaTooNew) as exc:
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

    def health(self) -> str:
        """ "ok" when the database takes a write (a committed rewrite of its schema version), else the
        error: a database that only answers reads is not healthy."""
        try:
            with self._tx() as db:
                db.execute(f"PRAGMA user_version = {self.schema_version}")
            return "ok"
        except StorageError as exc:
            return str(exc)
