"""A full disk: the requester is told nothing was started, and the database is not damaged."""

from __future__ import annotations

from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer


def test_full_database_refuses_clearly_and_recovers(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    conn = app.bot.store._conn  # the bot's own connection: SQLite's page cap applies per connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow: writes fail with SQLITE_FULL
    reply = app.command("refactor " + "the payment module " * 700).json()
    assert "couldn't save your request" in reply["text"] and reply["response_type"] == "ephemeral"
    assert codegen_api.runs() == []

    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert app.command("refactor the payment module").content == b""
    wait_for(codegen_api.runs, what="the run once there is room again")

