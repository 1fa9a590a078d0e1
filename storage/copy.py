"""Copying every row of one store into another (SQLite → PostgreSQL, `codegen-slack migrate-db`).

Rows already in the target (same primary key) are left as they are, so a copy cut off halfway can
simply run again. Leases are not copied: the first process on the target takes them afresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from storage.database import StoreBase
from storage.tx import Tx

BATCH_ROWS = 500
NOT_COPIED = frozenset({"leases", "schema_version", "rate_slots"})  # taken afresh by the next bot


@dataclass(frozen=True)
class TableCopy:
    """One table's copy: rows in the source, and how many of them were new in the target."""

    table: str
    rows: int
    added: int


def source_tables(source: StoreBase) -> list[str]:
    """The source's tables that hold the bot's data, in name order (a SQLite source)."""
    rows = source._rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(r["name"] for r in rows if r["name"] not in NOT_COPIED)


def _batches(source: StoreBase, table: str) -> Iterator[list[dict[str, object]]]:
    offset = 0
    while True:
        rows = source._rows(f"SELECT * FROM {table} ORDER BY rowid LIMIT ? OFFSET ?", (BATCH_ROWS, offset))
        if not rows:
            return
        yield rows
        offset += len(rows)


def copy_rows(source: StoreBase, target: StoreBase) -> list[TableCopy]:
    """Copy every table of `source` (SQLite, at the same schema version) into `target`; returns what
    each table's copy did. Raises StorageError when either side fails (rows committed so far stay)."""
    copies = []
    for table in source_tables(source):
        total = added = 0
        for rows in _batches(source, table):
            columns = list(rows[0])
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
            with target._tx() as db:
                for row in rows:
                    added += db.execute(sql, [row[c] for c in columns]).rowcount
            total += len(rows)
        copies.append(TableCopy(table, total, added))
    with target._tx() as db:  # new rows must not take the numbers of copied ones
        for table in source_tables(source):
            if target.dialect.name == "postgresql" and "id" in _columns(db, table):
                db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false)"
                    f" FROM {table}"
                )
    return copies


def _columns(db: Tx, table: str) -> set[str]:
    rows = db.query(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = ? AND table_schema = current_schema()",
        (table,),
    )
    return {r["column_name"] for r in rows}
