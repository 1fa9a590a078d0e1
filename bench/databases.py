"""The database a benchmark's bots share: a SQLite file (one process), or PostgreSQL for several
replicas (`--db URL`, or a throwaway server from tests/postgres.py), with one new schema per case.

    with bench_server(args.db, args.replicas) as server:   # None: SQLite
        with case_database(server, workdir) as target:      # a file path or a postgresql:// URL
            ...
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from storage.dialect import POSTGRESQL, is_postgresql_url
from storage.store import Store
from tests.postgres import empty_schema, postgres_server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--db URL` and `--replicas K`."""
    parser.add_argument(
        "--db",
        help="a postgresql:// URL (each case gets a new schema there, dropped after); default: a SQLite "
        "file, or a throwaway PostgreSQL server with --replicas above 1",
    )
    parser.add_argument("--replicas", type=int, default=1, help="bot processes sharing the database")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a message for a --db that is not a PostgreSQL URL, or fewer than one replica."""
    if args.db and not is_postgresql_url(args.db):
        parser.error("--db takes a postgresql:// URL (without it, the bot uses a SQLite file)")
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")


@contextmanager
def bench_server(db: str | None, replicas: int) -> Iterator[str | None]:
    """The PostgreSQL server URL to use (`db`, or a throwaway one when `replicas` > 1 and no `db` is
    given); None for SQLite."""
    if db:
        yield db
    elif replicas > 1:
        with postgres_server() as url:
            yield url
    else:
        yield None


@contextmanager
def case_database(server: str | None, workdir: Path, template: Path | None = None) -> Iterator[str]:
    """A new database for one case: `workdir`/bot.db (SQLite), or a new schema on `server`. It holds
    the rows of the SQLite file `template` when one is given."""
    if server is None:
        target = workdir / "bot.db"
        if template is not None:
            target.write_bytes(template.read_bytes())
        yield str(target)
        return
    with empty_schema(server) as url:
        Store(url).close()  # the schema, migrated
        if template is not None:
            copy_rows(template, url)
        yield url


def copy_rows(source: Path, url: str) -> None:
    """Copy every row of the SQLite file `source` into the same tables of the PostgreSQL database at
    `url` (same schema version), then move each identity column past the ids copied."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as lite, psycopg.connect(url) as pg:
        tables = [
            r[0]
            for r in pg.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_name != 'schema_version'"
            )
        ]
        for table in tables:
            columns = [r[1] for r in lite.execute(f'PRAGMA table_info("{table}")')]
            names = ", ".join(f'"{c}"' for c in columns)
            with pg.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in lite.execute(f"SELECT {names} FROM {table}"):
                    copy.write_row(row)
            identity = pg.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = %s AND is_identity = 'YES'",
                (table,),
            ).fetchone()
            if identity:
                pg.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({identity[0]}), 0) + 1,"
                    f" false) FROM {table}",
                    (table, identity[0]),
                )


def query(target: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of one read-only query (portable SQL with `?` placeholders) on a SQLite file or a
    PostgreSQL URL."""
    if is_postgresql_url(target):
        with psycopg.connect(target) as conn:
            return [tuple(r) for r in conn.execute(POSTGRESQL.sql(sql), params).fetchall()]
    with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()
