"""What a person sends is recorded once, with its job, before Slack is answered: a write that fails
leaves Slack free to redeliver (and the redelivery is processed), and a burst cannot slip past the
hourly cap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from storage.records import JobStatus
from tests.conftest import BACKENDS
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.test_mentions_and_threads import mention, reply, start_run_by_mention

GENERAL = "C0GENERAL"


@contextmanager
def database_full(app: AppUnderTest) -> Iterator[None]:
    """No write to the bot's database succeeds inside the block (SQLITE_FULL)."""
    conn = app.bot.store._conn  # the bot's own connection: SQLite's page cap applies per connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        conn.execute("PRAGMA max_page_count = 1073741823")


def test_a_mention_whose_write_failed_is_processed_when_slack_redelivers_it(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    event = mention(slack_server, "migrate the settings page " + "with care " * 1500)
    with database_full(app):
        first = app.event(event, event_id="Ev0MENTION")
    assert first.status_code >= 500  # Slack redelivers an event it got no 2xx for
    assert codegen_api.runs() == []
    again = app.event(event, event_id="Ev0MENTION")  # the same delivery, retried by Slack
    assert again.status_code == 200
    wait_for(codegen_api.runs, what="the run of the redelivered mention")
    assert app.event(event, event_id="Ev0MENTION").status_code == 200  # and once more: nothing new
    wait_for(lambda: app.bot.store.get_run(codegen_api.runs()[0]["id"]), what="the run stored")
    assert len(codegen_api.runs()) == 1


def test_a_follow_up_whose_write_failed_is_processed_when_slack_redelivers_it(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_run_by_mention(app, slack_server, codegen_api)
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="the run seen finished")
    event = reply(slack_server, ts, "now add the tests " + "for every case " * 1000)
    with database_full(app):
        assert app.event(event, event_id="Ev0REPLY").status_code >= 500
    assert app.event(event, event_id="Ev0REPLY").status_code == 200
    wait_for(lambda: codegen_api.count(path="resume_run") == 1, what="the follow-up sent")
    assert codegen_api.run_inputs(run_id)["resumes"][0]["prompt"].startswith("now add the tests")


@pytest.mark.parametrize("app_db", BACKENDS, indirect=True)
def test_a_burst_of_commands_from_one_person_stops_exactly_at_the_hourly_cap(
    make_app, codegen_api: CodegenServer
) -> None:
    app = make_app(codegen_slack_runs_per_user_per_hour=3)
    answers: list[str] = []

    def send(n: int) -> None:
        answers.append(app.command(f"task {n}").text)

    senders = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    refused = [a for a in answers if "the most allowed per person" in a]
    assert len(refused) == 9
    wait_for(lambda: len(codegen_api.runs()) == 3, what="three runs")


def test_a_mention_deleted_before_the_bot_answers_starts_nothing_and_leaves_no_dead_job(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    event = mention(slack_server, "rename the config flag")
    slack_server.delete_as_user(GENERAL, event["ts"])
    assert app.event(event).status_code == 200
    wait_for(lambda: app.bot.store.create_for_thread(GENERAL, event["ts"]) is None, what="withdrawn")
    assert codegen_api.runs() == []
    assert app.bot.store.jobs_in((JobStatus.DEAD,)) == []


@pytest.mark.parametrize("app_db", BACKENDS, indirect=True)
def test_a_prompt_with_a_nul_byte_is_kept_on_either_database(make_app, codegen_api: CodegenServer) -> None:
    app = make_app()
    answer = app.command("fix the parser \x00 it chokes on this byte").text
    assert "couldn't save" not in answer  # PostgreSQL's text cannot hold NUL: it goes as U+FFFD
    run = wait_for(codegen_api.runs, what="the run")[0]
    prompt = codegen_api.run_inputs(run["id"])["prompt"]
    assert "fix the parser" in prompt and "it chokes on this byte" in prompt
