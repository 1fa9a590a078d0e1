"""A throwaway PostgreSQL server for the tests, and one empty schema per test on it.

`CODEGEN_SLACK_TEST_POSTGRES` (a `postgresql://` URL) names a server to use instead, as `.ci/run`
sets it. Otherwise the server binaries (initdb, pg_ctl: on PATH, or under
/usr/lib/postgresql/<version>/bin as Debian installs them) start one on a free loopback port, run by
the `postgres` system user when the tests run as root (PostgreSQL refuses to run as root). With
neither, the tests that need PostgreSQL fail with a message saying what to install: none is skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg

ENV = "CODEGEN_SLACK_TEST_POSTGRES"
MISSING = (
    "PostgreSQL is needed for these tests and was not found: set CODEGEN_SLACK_TEST_POSTGRES to a "
    "postgresql:// URL, or install the server binaries (Debian: apt-get install postgresql)"
)


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not versions:
        raise RuntimeError(MISSING)
    return Path(versions[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this test session (started here unless ENV names one)."""
    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    bindir = _bindir()
    data = Path(tempfile.mkdtemp(prefix="codegen-slack-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(data, "postgres")
    port = _free_port()
    run = [*prefix, str(bindir / "initdb"), "-D", str(data / "db"), "-U", "postgres", "-A", "trust"]
    subprocess.run(run, check=True, capture_output=True)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    start = [*prefix, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-o", options, "-w", "-l"]
    subprocess.run([*start, str(data / "log"), "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = [*prefix, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"]
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def empty_schema(server: str) -> Iterator[str]:
    """A URL whose connections see only a new, empty schema of their own (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    joiner = "&" if "?" in server else "?"
    try:
        yield f"{server}{joiner}options={quote(f'-csearch_path={name}')}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")
