"""The audit trail, end to end: a scripted session (a command, a follow-up, a retry, a channel setting
changed, a guest refused) is exported by `codegen-slack audit` as exactly those decisions, with no
prompt, token or signing secret in it; old entries are forgotten after the retention."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from bot.audit_cli import export, since
from bot.housekeeping import DAY_SECONDS, housekeeping_kind
from storage.audit import ALLOWED, REFUSED, add_audit
from storage.records import Job
from storage.store import RESUMED_STEP, Store
from tests.harness import SIGNING_SECRET, AppUnderTest, wait_for
from tests.interactions import click
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import WORKSPACE, SlackServer
from tests.subprocess_app import bot_env, run_cli
from tests.test_cards_and_buttons import action_ids, card_when, start_run
from tests.test_mentions_and_threads import reply

GENERAL, ALICE, GUEST = "C0GENERAL", "U0ALICE", "U0GUEST"
PROMPT = "fix the flaky login test in the checkout service"
FOLLOW_UP = "also add a regression test for it"


def scripted_session(app: AppUnderTest, codegen: CodegenServer, slack: SlackServer) -> int:
    """Alice starts a run, follows up in its thread when it is done, retries it when that fails and
    sets the channel's notify; a guest's command is refused. Returns the first run's id."""
    slack.add_user(GUEST, "gus", guest="multi")
    run_id, card = start_run(app, codegen, slack, PROMPT)
    wait_for(lambda: app.bot.store.get_run(run_id), what="the run stored")
    codegen.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="the run finished")
    app.event(reply(slack, card["ts"], FOLLOW_UP, user=ALICE))
    follow_up = wait_for(lambda: app.bot.store.audit_entries()[1:], what="the follow-up recorded")[0]
    steps = app.bot.store.steps_of
    wait_for(lambda: RESUMED_STEP in steps(follow_up.request_id or 0), what="the follow-up delivered")
    codegen.set_status(run_id, "FAILED", result="Tests failed.")
    failed = card_when(slack, run_id, lambda c: "retry_run" in action_ids(c), "the Retry button")
    click(app, failed, "retry_run", user=ALICE)
    wait_for(lambda: len(codegen.runs()) == 2, what="the retried run")
    assert "now announced" in app.command("config notify channel").json()["text"]
    assert "guests can't" in app.command("delete the prod database", user=GUEST).json()["text"]
    return run_id


def exported(db: Path, form: str, capsys: pytest.CaptureFixture[str]) -> str:
    from bot.audit_cli import run

    assert run(argparse.Namespace(since=0.0, format=form), str(db)) == 0
    return capsys.readouterr().out


def test_the_export_lists_every_decision_of_a_session_and_nothing_else(
    app: AppUnderTest,
    codegen_api: CodegenServer,
    slack_server: SlackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = scripted_session(app, codegen_api, slack_server)
    entries = json.loads(exported(Path(app.settings.codegen_slack_db), "json", capsys))
    seen = [(e["actor"], e["action"], e["outcome"], e["channel"], e["run_id"]) for e in entries]
    assert seen == [
        (ALICE, "start", ALLOWED, GENERAL, None),
        (ALICE, "follow_up", ALLOWED, GENERAL, run_id),
        (ALICE, "retry", ALLOWED, GENERAL, run_id),
        (ALICE, "config", ALLOWED, GENERAL, None),
        (GUEST, "command", REFUSED, GENERAL, None),
    ]
    assert entries[0]["detail"] == f"via command; prompt of {len(PROMPT)} characters"
    assert entries[3]["detail"] == "notify=channel"
    assert entries[4]["detail"] == "guest"
    assert {e["team"] for e in entries} == {WORKSPACE}
    assert all(e["request_id"] for e in entries[:3])
    text = json.dumps(entries)
    assert PROMPT not in text and FOLLOW_UP not in text and "prod database" not in text  # no prompt kept

    rows = list(csv.DictReader(io.StringIO(exported(Path(app.settings.codegen_slack_db), "csv", capsys))))
    assert [(r["actor"], r["action"], r["outcome"]) for r in rows] == [s[:3] for s in seen]
    assert rows[0]["at"] == entries[0]["at"] and rows[0]["at"].endswith("+00:00")


def test_the_exported_audit_holds_no_token_or_signing_secret(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer, tmp_path: Path
) -> None:
    scripted_session(app, codegen_api, slack_server)
    env = bot_env(codegen_api, slack_server, Path(app.settings.codegen_slack_db))
    secrets = (slack_server.bot_token, codegen_api.token, SIGNING_SECRET)  # type: ignore[attr-defined]
    for form in ("csv", "json"):
        done = run_cli(["audit", "--format", form], env, tmp_path)
        assert done.returncode == 0 and done.stdout.count("follow_up") == 1, done.stderr
        for secret in secrets:
            assert secret not in done.stdout and secret not in done.stderr


def test_since_takes_a_date_or_an_age_and_names_what_it_wants(tmp_path: Path) -> None:
    assert since("2026-11-01") == 1_793_491_200.0
    assert since("7d", now=1_000_000.0) == 1_000_000.0 - 7 * 86_400
    with pytest.raises(argparse.ArgumentTypeError, match="neither a date"):
        since("last week")
    bad = run_cli(["audit", "--since", "last week"], {"CODEGEN_SLACK_DB": str(tmp_path / "x.db")}, tmp_path)
    assert bad.returncode == 2 and "neither a date" in bad.stderr and "Traceback" not in bad.stderr


def test_housekeeping_forgets_entries_older_than_the_retention(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "bot.db"))
    now = 1_800_000_000.0
    for age_days in (31, 29, 1):
        store.record_audit(at=now - age_days * DAY_SECONDS, actor=ALICE, action="start")

    class Clock:
        def now(self) -> float:
            return now

    kind = housekeeping_kind(store, Clock(), audit_retention_days=30)  # type: ignore[arg-type]
    kind.handle(Job.__new__(Job))
    assert [round((now - e.at) / DAY_SECONDS) for e in store.audit_entries()] == [29, 1]
    with store._tx() as db:  # the function other actions call inside their own transaction
        add_audit(db, at=now, actor=ALICE, action="stop", run_id=7, detail="from the card")
    assert "stop" in export(store.audit_entries(now), "csv")
    store.close()
