"""Schedules end to end, in fake time: cron read in the author's Slack time zone, each firing one run
posted in the channel, never two for one firing (a restart in its minute, two processes on one
database), one catch-up run for the firings missed while the bot was down, and clear errors."""

from __future__ import annotations

import pytest

from bot.audit_cli import export
from tests.conftest import BACKENDS
from tests.fake_time_app import ALICE, BOB, GENERAL, FakeTimeApp, make_fake_time_app
from tests.harness import AppUnderTest

__all__ = ["make_fake_time_app"]

# A firing runs once across restarts and replicas: on SQLite, and on PostgreSQL where replicas share it.
pytestmark = pytest.mark.parametrize("app_db", BACKENDS, indirect=True)

START = 1_800_000_000  # Fri 15 Jan 2027, 08:00 UTC: 03:00 in New York
NINE_IN_NEW_YORK = START + 6 * 3600
CAROL = "U0CAROL"


@pytest.fixture
def app(make_fake_time_app) -> FakeTimeApp:
    app = make_fake_time_app(codegen_slack_admin_users=ALICE)
    app.slack.add_user(ALICE, "alice", real_name="Alice", tz="America/New_York")
    app.slack.add_user(BOB, "bob", real_name="Bob", tz="Asia/Tokyo")
    app.slack.add_user(CAROL, "carol", real_name="Carol")
    assert app.clock.now() == START
    return app


def test_list_shows_when_each_schedule_runs_next_in_the_authors_time_zone(app: FakeTimeApp) -> None:
    added = app.command('schedule add "0 9 * * *" triage new issues repo=acme/web')
    assert "Schedule 1 added" in added and "At 09:00" in added and "America/New_York" in added
    app.command('schedule add "30 9 * * 1-5" summarize open pull requests', user=BOB)

    listed = app.command("schedule list", user=BOB)
    # Slack shows <!date^…> in each reader's own time zone; the fallback text is the author's.
    shown = f"<!date^{NINE_IN_NEW_YORK}^{{date_short_pretty}} at {{time}}|Fri Jan 15 2027, 09:00 EST>"
    assert shown in listed
    assert "triage new issues" in listed and "on `acme/web`" in listed
    bob_next = START + 64.5 * 3600  # 09:30 in Tokyo on Monday 18 Jan (00:30 UTC)
    assert f"<!date^{int(bob_next)}^" in listed and "09:30 JST>" in listed and "Asia/Tokyo" in listed


def test_a_schedule_fires_once_a_time_as_a_run_posted_in_the_channel(app: FakeTimeApp) -> None:
    app.command('schedule add "0 9 * * *" triage new issues')
    app.work(NINE_IN_NEW_YORK - START - 60)
    assert app.codegen.runs() == []
    app.work(120)
    assert app.prompts() == ["triage new issues"]
    (top,) = [m for m in app.slack.messages(GENERAL) if m["bot_id"] == app.slack.bot_id]
    assert "Codegen run" in top["text"]  # the run's status message starts its own thread
    run = app.app.bot.store.run_for_thread(GENERAL, top["ts"])
    assert run is not None and run.requester == ALICE
    app.finish_runs()
    app.work(24 * 3600)
    assert app.prompts() == ["triage new issues"] * 2


def test_a_restart_in_the_firing_minute_does_not_fire_it_again(app: FakeTimeApp) -> None:
    app.command('schedule add "0 9 * * *" triage new issues')
    app.work(NINE_IN_NEW_YORK - START)  # 09:00:00: fired
    assert len(app.codegen.runs()) == 1
    app.restart(down_for=20)  # 09:00:20, a new process on the same database
    app.work(30)
    assert len(app.codegen.runs()) == 1


def test_a_firing_cut_off_by_a_restart_runs_once_in_the_new_process(app: FakeTimeApp) -> None:
    app.command('schedule add "0 9 * * *" triage new issues')
    app.work(NINE_IN_NEW_YORK - START - 1)
    app.clock.advance(1)  # 09:00:00
    assert app.app.bot.runner.run_one()  # the `schedules` job fires it …
    assert app.codegen.runs() == []
    app.restart(down_for=20)  # … and the process stops before the firing's own job ran
    app.work(30)
    assert app.prompts() == ["triage new issues"]
    app.restart(down_for=5)
    app.work(30)
    assert app.prompts() == ["triage new issues"]


def test_two_processes_that_both_find_it_due_fire_it_once(app: FakeTimeApp) -> None:
    app.command('schedule add "*/10 * * * *" check the error budget')
    other = AppUnderTest(app.app.settings, clock=app.clock)  # a second replica, same database
    other.bot.arm_recurring_jobs()
    other.bot.runner._leading = lambda: True  # a deposed leader that still thinks it leads (a long pause)
    try:
        for _ in range(3):
            app.clock.advance(600)
            # Both look for due schedules at the same moment; the first fires it, then the other
            # acts on what it saw.
            seen = other.bot.store.due_schedules(app.clock.now())
            assert len(seen) == 1
            app.work()
            other.bot.store.due_schedules = lambda now, limit=100, seen=seen: seen  # type: ignore[method-assign]
            other.bot.runner.drain()
            app.work()
    finally:
        other.bot.codegen.close()
        other.bot.store.close()
    assert app.prompts() == ["check the error budget"] * 3


def test_firings_missed_while_the_bot_was_down_run_once_at_start(app: FakeTimeApp) -> None:
    app.command('schedule add "0 * * * *" rotate the staging logs')
    app.work(3600)
    assert len(app.codegen.runs()) == 1  # 04:00
    app.restart(down_for=5 * 3600 + 600)  # down over 05:00 … 09:00, back at 09:10
    app.work(1)
    assert len(app.codegen.runs()) == 2  # one catch-up run, not five
    app.work(3000)  # 10:00
    assert len(app.codegen.runs()) == 3


def test_paused_schedules_do_not_fire_and_only_the_author_or_an_admin_changes_one(app: FakeTimeApp) -> None:
    app.command('schedule add "0 9 * * *" triage new issues', user=BOB)
    assert "Only the person who added schedule 1" in app.command("schedule pause 1", user=CAROL)
    assert "paused" in app.command("schedule pause 1", user=BOB)
    assert "paused" in app.command("schedule list")
    app.work(24 * 3600)
    assert app.codegen.runs() == []
    assert "Schedule 1 resumed" in app.command("schedule resume 1", user=ALICE)  # an admin
    app.work(16 * 3600 + 60)  # Sunday 09:00 in Tokyo, where Bob is
    assert len(app.codegen.runs()) == 1
    app.finish_runs()
    assert "Schedule 1 removed" in app.command("schedule remove 1", user=BOB)
    app.work(24 * 3600)
    assert len(app.codegen.runs()) == 1
    assert "No schedules" in app.command("schedule list")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('schedule add "0 25 * * *" triage', "is not a cron expression I can read (Bad hour)"),
        ('schedule add "0 9 * *" triage', "has 4 fields, not 5"),
        ('schedule add "@daily" triage', "use five fields like 0 9 * * 1-5 (aliases like @daily are not"),
        ('schedule add "@hourly" triage', "aliases like @daily are not supported"),
        ('schedule add "0 9 30 2 *" triage', "is not a cron expression I can read"),
        ("schedule add 0 9 * * * triage", "Put the cron expression in double quotes"),
        ('schedule add "0 9 * * *"', "Tell the agent what to do"),
        ("schedule pause 9", "no schedule 9"),
    ],
)
def test_a_bad_schedule_gets_a_clear_error(app: FakeTimeApp, text: str, problem: str) -> None:
    assert problem in app.command(text)
    assert "No schedules" in app.command("schedule list")


def test_adding_pausing_resuming_removing_schedules_and_refusals_are_in_the_audit_trail(
    app: FakeTimeApp,
) -> None:
    app.command('schedule add "0 9 * * 1-5" triage new issues repo=acme/web', user=BOB)
    app.command("schedule pause 1", user=CAROL)  # neither its author nor an admin
    app.command("schedule pause 1", user=BOB)
    app.command("schedule resume 1", user=ALICE)  # an admin
    app.command("schedule remove 1", user=CAROL)
    app.command("schedule remove 1", user=BOB)
    entries = [(e.actor, e.action, e.channel, e.outcome, e.detail) for e in app.app.bot.store.audit_entries()]
    assert entries == [
        (BOB, "schedule", GENERAL, "allowed",
         "schedule 1 added: cron '0 9 * * 1-5' (Asia/Tokyo), prompt of 17 characters, repo=acme/web"),
        (CAROL, "schedule", GENERAL, "refused", "pause schedule 1: not its author or an admin"),
        (BOB, "schedule", GENERAL, "allowed", "schedule 1 paused"),
        (ALICE, "schedule", GENERAL, "allowed", "schedule 1 resumed"),
        (CAROL, "schedule", GENERAL, "refused", "remove schedule 1: not its author or an admin"),
        (BOB, "schedule", GENERAL, "allowed", "schedule 1 removed"),
    ]  # fmt: skip
    assert "triage" not in export(app.app.bot.store.audit_entries(), "csv")  # no prompt's text
