"""Day-100 operations on the database: `codegen-slack backup PATH` while the bot runs, and a database
written by a newer version refused at start instead of being used."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.harness import wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import SubprocessApp, bot_env, free_port, run_cli


def test_backup_while_the_bot_runs(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db")
    bot = SubprocessApp(env, tmp_path).start()
    try:
        bot.command("fix the flaky login test")
        run = wait_for(codegen_api.runs, what="the run")[0]
        wait_for(lambda: _run_ids(tmp_path / "bot.db") == [run["id"]], what="the run in the database")
        done = run_cli(["backup", str(tmp_path / "copy.db")], env, tmp_path)
        again = run_cli(["backup", str(tmp_path / "copy.db")], env, tmp_path)
    finally:
        bot.stop()
    assert done.returncode == 0 and "backed up" in done.stdout, done.stderr
    assert _run_ids(tmp_path / "copy.db") == [run["id"]]
    assert (tmp_path / "copy.db").stat().st_mode & 0o077 == 0  # as private as the database
    assert again.returncode == 1 and "already exists" in again.stderr  # never overwritten


def _run_ids(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT run_id FROM runs")]


def test_database_from_a_newer_version_is_refused(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    db = tmp_path / "bot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    env = bot_env(codegen_api, slack_server, db)
    result = run_cli(["serve", "--host", "127.0.0.1", "--port", str(free_port())], env, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "CODEGEN_SLACK_DB" in result.stderr
        and "schema version 99, written by a newer codegen-slack" in result.stderr
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
