"""What an operator does around PostgreSQL: move from SQLite with `migrate-db`, `check` the database,
and find that a second process on one SQLite file is refused with a pointer to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg

from storage.file_lock import hold_file_lock
from storage.records import RunRecord
from storage.store import Store
from tests.harness import wait_for
from tests.postgres import empty_schema
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import bot_env, free_port, run_cli

NOW = 1_800_000_000.0


def filled_sqlite(path: Path) -> None:
    """A SQLite database with a run and its thread, a pending request with its job, and settings."""
    store = Store(str(path))
    store.add_run(
        RunRecord(run_id=77, channel="C1", thread_ts="1.000", requester="U1", prompt="fix the build",
                  status="ACTIVE", created_at=NOW, status_ts="1.001")
    )  # fmt: skip
    store.add_request(key="cmd:1", kind="create", channel="C1", user="U2", prompt="add tests", now=NOW)
    store.set_channel_settings("C1", user="U1", now=NOW, default_repo="acme/web")
    store.set_user_prefs("U1", dm_on_finish=True)
    store.close()


def test_migrate_db_copies_everything_and_can_run_again(
    tmp_path: Path, postgres: str, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    source = tmp_path / "bot.db"
    filled_sqlite(source)
    env = bot_env(codegen_api, slack_server, source)
    with empty_schema(postgres) as url:
        first = run_cli(["migrate-db", "--to", url], env, tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "runs: 1 row(s), 1 new" in first.stdout and "Set CODEGEN_SLACK_DB=" in first.stdout
        again = run_cli(["migrate-db", "--to", url], env, tmp_path)
        assert again.returncode == 0 and "runs: 1 row(s), 0 new" in again.stdout  # nothing doubled
        moved = Store(url)
        try:
            run = moved.run_for_thread("C1", "1.000")
            assert run is not None and run.run_id == 77 and run.prompt == "fix the build"
            assert moved.channel_settings("C1").default_repo == "acme/web"
            assert moved.user_prefs("U1").dm_on_finish
            assert moved.create_for_thread("C1", "") is not None  # the pending request, still pending
            assert moved.count_jobs().get(("create", "queued")) == 1
            later = moved.add_request(
                key="cmd:2", kind="create", channel="C1", user="U2", prompt="x", now=NOW
            )
            assert later is not None and later.id == 2  # new rows are numbered after the copied ones
        finally:
            moved.close()
        other = tmp_path / "other.db"  # another bot's file is not mixed into this database
        filled_sqlite(other)
        mixed = run_cli(["migrate-db", "--to", url], bot_env(codegen_api, slack_server, other), tmp_path)
        assert mixed.returncode == 2 and "already holds the data copied from" in mixed.stdout
    old = run_cli(["serve", "--port", str(free_port())], env, tmp_path)  # the old file would repeat work
    assert old.returncode == 2 and "its data was moved to postgresql://" in old.stderr
    assert run_cli(["migrate-db", "--release"], env, tmp_path).returncode == 0
    assert Store(str(source)).marker("migrated_to") is None


def test_migrate_db_refuses_a_database_a_bot_already_uses(
    tmp_path: Path, postgres: str, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    source = tmp_path / "bot.db"
    filled_sqlite(source)
    with empty_schema(postgres) as url:
        used = Store(url)
        used.add_request(key="cmd:9", kind="create", channel="C9", user="U9", prompt="theirs", now=NOW)
        used.close()
        result = run_cli(["migrate-db", "--to", url], bot_env(codegen_api, slack_server, source), tmp_path)
    assert result.returncode == 2 and "already holds a bot's data" in result.stdout


def test_migrate_db_refuses_while_a_bot_serves_the_file(
    tmp_path: Path, postgres: str, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    source = tmp_path / "bot.db"
    filled_sqlite(source)
    serving = hold_file_lock(str(source))
    try:
        with empty_schema(postgres) as url:
            result = run_cli(
                ["migrate-db", "--to", url], bot_env(codegen_api, slack_server, source), tmp_path
            )
    finally:
        serving.release()
    assert result.returncode == 2 and "stop it first" in result.stdout


def test_a_second_serve_on_one_sqlite_file_is_refused(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    source = tmp_path / "bot.db"
    Store(str(source)).close()
    (tmp_path / "same-file.db").symlink_to(source)  # another name of the same file counts too
    serving = hold_file_lock(str(source))
    try:
        env = bot_env(codegen_api, slack_server, tmp_path / "same-file.db")
        result = run_cli(["serve", "--port", str(free_port())], env, tmp_path)
    finally:
        serving.release()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "another codegen-slack process already serves" in result.stderr
    assert "postgresql://" in result.stderr


def test_check_reports_a_postgresql_database_without_its_password(
    tmp_path: Path, postgres: str, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    with empty_schema(postgres) as url:
        Store(url).close()
        result = run_cli(["check"], bot_env(codegen_api, slack_server, url), tmp_path)
        assert result.returncode == 0, result.stdout
        assert "reachable and writable, schema version" in result.stdout
    secret_url = "postgresql://bot:hunter2-secret@127.0.0.1:9/codegen"  # nothing listens on port 9
    result = run_cli(["check"], bot_env(codegen_api, slack_server, secret_url), tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "postgresql://bot@127.0.0.1:9/codegen" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_connections_the_server_dropped_are_replaced_before_use(postgres: str) -> None:
    with empty_schema(postgres) as url:
        store = Store(url)
        try:
            store.set_channel_settings("C1", user="U1", now=NOW, default_repo="acme/web")
            with psycopg.connect(postgres, autocommit=True) as admin:  # a server restart, a failover
                pids = [row[0] for row in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                    " AND datname = current_database()"
                )]  # fmt: skip
                for pid in pids:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                # Terminating only signals the backends; a restart is over once they have exited.
                gone = "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)"
                wait_for(lambda: not admin.execute(gone, (pids,)).fetchall(), what="the backends gone")
            store.set_channel_settings("C1", user="U1", now=NOW, default_repo="acme/api")
            assert store.channel_settings("C1").default_repo == "acme/api"
        finally:
            store.close()


def test_serve_with_a_port_or_address_it_cannot_use_says_so(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    env = bot_env(codegen_api, slack_server, tmp_path / "bot.db")
    bad_host = run_cli(["serve", "--host", "999.1.1.1", "--port", str(free_port())], env, tmp_path)
    assert bad_host.returncode == 2 and "Traceback" not in bad_host.stderr
    assert "cannot be used" in bad_host.stderr
    bad_metrics = run_cli(
        ["serve", "--port", str(free_port())],
        {**env, "CODEGEN_SLACK_METRICS_ADDRESS": "999.1.1.1:9100"},
        tmp_path,
    )
    assert bad_metrics.returncode == 2 and "Traceback" not in bad_metrics.stderr
    assert "CODEGEN_SLACK_METRICS_ADDRESS 999.1.1.1:9100 cannot be used" in bad_metrics.stderr


def test_serve_when_postgresql_cannot_be_reached_exits_to_be_restarted(
    tmp_path: Path, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    url = f"postgresql://bot:hunter2-secret@127.0.0.1:{free_port()}/codegen"  # nothing listens there
    result = run_cli(["serve", "--port", str(free_port())], bot_env(codegen_api, slack_server, url), tmp_path)
    assert result.returncode == 1  # not 2 (a settings error): systemd and compose start it again
    (said,) = [line for line in result.stderr.splitlines() if "cannot reach the database" in line]
    assert "postgresql://bot@127.0.0.1" in said and "Connection refused" in said  # one line, with why
    assert "hunter2" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_the_database_commands_need_no_slack_or_codegen_token(tmp_path: Path) -> None:
    filled_sqlite(tmp_path / "bot.db")
    env = {"CODEGEN_SLACK_DB": str(tmp_path / "bot.db")}
    for args in (["jobs"], ["audit", "--format", "json"], ["backup", str(tmp_path / "copy.db")]):
        result = run_cli(args, env, tmp_path)
        assert result.returncode == 0, (args, result.stdout + result.stderr)
    assert run_cli(["serve"], env, tmp_path).returncode == 2  # serve still needs them all
