"""The database under the store: a SQLite file or a PostgreSQL server, opened, migrated, and used
through serialised write transactions and reads; and what every part of the store shares (the error
it raises, the steps noted on a request)."""

from __future__ import annotations

import os
import select
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlite_utils
from psycopg.abc import Buffer
from psycopg.rows import dict_row
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import ConnectionPool

from storage.dialect import POSTGRESQL, SQLITE, Dialect, describe_database, is_postgresql_url
from storage.schema import SchemaTooNew, migrate, write_version
from storage.tx import PgTx, SqliteTx, Tx

RESUMED_STEP = "resumed"  # noted on a resume request once Codegen accepted its prompt
CREATE_STEP = "create"  # noted on a create request just before Codegen is asked to make its run
# The key of the PostgreSQL advisory lock that write transactions hold: it gives every write what
# SQLite's BEGIN IMMEDIATE gives, one at a time, so storage code that reads before it writes (the
# hourly cap, insert-once keys, claiming a job) is correct on both backends without two versions.
WRITE_LOCK = 0x636F_6465_6765_6E  # "codegen"
# Rate-limit slots (storage/slots.py) touch only their own table: they take this lock instead, so the
# acks that count users.info calls never queue behind the leader's writes, nor those behind them.
SLOTS_LOCK = WRITE_LOCK + 1
WORK_CHANNEL = "codegen_slack_work"  # PostgreSQL NOTIFY channel: work was recorded for the leader
CONNECT_TIMEOUT_SECONDS = 10
POOL_MAX = 10
POOL_WAIT_SECONDS = 2.0  # connections per process; PostgreSQL's default max_connections (100) fits 9 replicas


class StorageError(Exception):
    """The database could not be written or read (disk full, locked, unreachable); nothing was
    half-written. `unreachable`: the PostgreSQL server could not be reached or refused the login, so
    trying again later may succeed."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


DB_ERRORS = (sqlite3.Error, psycopg.Error)


def _open_sqlite(path: str) -> sqlite3.Connection:
    """Open (creating with mode 0600) a WAL-mode connection shared by this process's threads."""
    if path != ":memory:" and not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class StoreBase:
    """The connection (SQLite) or pool (PostgreSQL), with the transaction and read helpers every
    part of the store uses. `target` is a file path or a `postgresql://` URL; raises StorageError
    when the database cannot be opened or was written by a newer version."""

    def __init__(self, target: str) -> None:
        self.path = target
        self.dialect: Dialect = POSTGRESQL if is_postgresql_url(target) else SQLITE
        self._lock = threading.RLock()
        self._pool: ConnectionPool | None = None
        try:
            if self.dialect is POSTGRESQL:
                self._pool = ConnectionPool(
                    target,
                    min_size=1,
                    max_size=POOL_MAX,
                    # autocommit: a read is one round trip (no BEGIN before it, no COMMIT after), and
                    # writes open their own transaction (_pg_tx).
                    kwargs={
                        "row_factory": dict_row,
                        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                        "autocommit": True,
                    },
                    # Waiting longer for a connection than Slack waits for an answer (3 s) helps nobody:
                    # the request is refused in words, the job tried again.
                    timeout=POOL_WAIT_SECONDS,
                    # A connection the server dropped (a restart, a failover) is replaced before use
                    # instead of failing the request that drew it.
                    check=_dropped_by_server,
                    configure=_nul_free_text,
                    open=False,
                )
                try:  # the server's own reason (refused, no such database, a wrong password), at once
                    psycopg.connect(target, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
                except psycopg.OperationalError as exc:
                    said = " ".join(str(exc).split())  # psycopg's reason and hint, on one line
                    reason = f"cannot reach the database {describe_database(target)}: {said}"
                    raise StorageError(reason, unreachable=True) from None
                self._pool.open(wait=True, timeout=15.0)
                with self._pool.connection() as conn:
                    conn.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))  # one replica migrates
                    try:
                        self.schema_version = migrate(lambda: _pg_tx(conn))
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))
            else:
                self._conn = _open_sqlite(target)
                self._db = sqlite_utils.Database(self._conn)
                self.schema_version = migrate(self._sqlite_tx, legacy=self._db)
        except (*DB_ERRORS, SchemaTooNew) as exc:
            self.close()
            raise StorageError(f"cannot open the database {describe_database(target)}: {exc}") from None

    def close(self) -> None:
        """Close the connection or the pool."""
        if self._pool is not None:
            self._pool.close()
        elif hasattr(self, "_conn"):
            with self._lock:
                self._conn.close()

    @contextmanager
    def _sqlite_tx(self) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self._db)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _tx(self, lock: int = WRITE_LOCK) -> Iterator[Tx]:
        """One serialised write transaction; database errors become StorageError. On PostgreSQL it is
        serialised with the others that take the advisory `lock` (SQLite has one writer at a time)."""
        try:
            if self._pool is None:
                with self._sqlite_tx() as tx:
                    yield tx
            else:
                with self._pool.connection() as conn, _pg_tx(conn, lock) as tx:
                    yield tx
        except DB_ERRORS as exc:
            raise StorageError(f"database write failed: {exc}") from None

    def _rows(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        """The rows of one query, outside any write transaction."""
        try:
            if self._pool is None:
                with self._lock:
                    return list(self._db.query(sql, params))
            with self._pool.connection() as conn:
                return list(conn.execute(self.dialect.sql(sql), params).fetchall())
        except DB_ERRORS as exc:
            raise StorageError(f"database read failed: {exc}") from None

    def notify_work(self) -> None:
        """Tell the leading process (on another replica) that work was recorded (PostgreSQL NOTIFY; on
        SQLite the only process is the leader). A lost notice costs only latency: the leader also
        looks for due jobs on its own at least every 30 s."""
        if self._pool is None:
            return
        try:
            with self._pool.connection() as conn:
                conn.execute(f"NOTIFY {WORK_CHANNEL}")
        except DB_ERRORS:
            pass

    def health(self) -> str:
        """ "ok" when the database takes a write (a committed rewrite of its schema version), else the
        error: a database that only answers reads is not healthy."""
        try:
            with self._tx() as tx:
                write_version(tx, self.schema_version)
            return "ok"
        except StorageError as exc:
            return str(exc)


def _dropped_by_server(conn: psycopg.Connection[Any]) -> None:
    """The pool's check before it hands out `conn`: raise when the server has closed it. An idle
    connection has nothing to read unless the server said goodbye (a terminated backend, a restart),
    so one non-blocking poll of its socket tells, without the round trip of a query (which cost the
    ack's p99 60 ms at 100 requests a second over three replicas, see bench/README.md)."""
    if conn.closed:
        raise psycopg.OperationalError("this connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        conn.close()  # so that the pool discards it instead of handing it out again
        raise psycopg.OperationalError("the server closed this connection")


class _NulFreeStrDumper(StrDumperUnknown):
    """Python strings as psycopg sends them, but with each NUL byte (which PostgreSQL's text cannot
    hold, and SQLite keeps) as U+FFFD: a prompt that carries one is kept, not refused."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


def _nul_free_text(conn: psycopg.Connection[Any]) -> None:
    """The pool's set-up of each new connection: strings go out through _NulFreeStrDumper."""
    conn.adapters.register_dumper(str, _NulFreeStrDumper)


@contextmanager
def _pg_tx(conn: psycopg.Connection[Any], lock: int = WRITE_LOCK) -> Iterator[Tx]:
    """A PostgreSQL transaction holding advisory lock `lock` until it commits or rolls back."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        yield PgTx(conn)
