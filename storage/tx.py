"""One open write transaction, the same to storage code on both backends: run portable SQL (`?`
placeholders, see storage.dialect), read rows as dicts, and the two row writes every table needs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import psycopg
import sqlite_utils

from storage.dialect import POSTGRESQL, SQLITE, Dialect


class Result(Protocol):
    """What `Tx.execute` returns: how many rows a write touched."""

    @property
    def rowcount(self) -> int: ...


class Tx(ABC):
    """A write transaction; subclasses bind it to a connection. `dialect` says which backend."""

    dialect: Dialect

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """Run one statement; returns its cursor (`rowcount`)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a query, as dicts keyed by column name."""

    def update(self, table: str, key: dict[str, Any], changes: dict[str, Any]) -> None:
        """Set `changes` (column → value) on the rows matching `key` (column → value)."""
        if not changes:
            return
        sets = ", ".join(f'"{column}" = ?' for column in changes)
        where = " AND ".join(f'"{column}" = ?' for column in key)
        self.execute(f"UPDATE {table} SET {sets} WHERE {where}", (*changes.values(), *key.values()))

    def upsert(self, table: str, row: dict[str, Any], key: Sequence[str], *, replace: bool = False) -> None:
        """Insert `row`, or when a row with the same `key` columns exists, set the columns `row` gives
        (all other columns to their defaults too when `replace`)."""
        columns = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" * len(row))
        conflict = ", ".join(f'"{c}"' for c in key)
        if replace:
            where = " AND ".join(f'"{c}" = ?' for c in key)
            self.execute(f"DELETE FROM {table} WHERE {where}", [row[c] for c in key])
            self.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
            return
        updates = [f'"{c}" = excluded."{c}"' for c in row if c not in key]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        self.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({conflict}) {action}",
            list(row.values()),
        )


class SqliteTx(Tx):
    """A transaction on the process's one SQLite connection (begun by the caller)."""

    dialect = SQLITE

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self._db.query(sql, params))


class PgTx(Tx):
    """A transaction on one pooled PostgreSQL connection (rows come back as dicts)."""

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return self._conn.execute(self.dialect.sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(self.dialect.sql(sql), list(rows))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self._conn.execute(self.dialect.sql(sql), params).fetchall())
