"""Stop and agent sessions, end to end. Codegen cannot cancel a run, so Stop, from any of its places
(the card's button, `/codegen stop`, Slack's own stop button), sends the run exactly one follow-up
telling it to stop, and the card says what was done. Each run is an agent session on its thread."""

from __future__ import annotations

from typing import Any

import pytest

from bot.jobs import Runner
from bot.render.cards import RETRY
from bot.render.controls import CANCEL_REQUEST, STOP, STOP_PROMPT
from bot.sessions import session_kind
from bot.slack_calls import make_web_client
from bot.slack_limits import SlackLimits
from bot.slack_out import SlackOut
from storage.records import JobStatus, RunRecord
from storage.store import Store
from tests.fakeclock import FakeClock
from tests.harness import AppUnderTest, make_settings, wait_for
from tests.interactions import click
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_agent_api import session_stopped_event
from tests.servers.slack_fixtures import start_slack_server
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB, BOT = "C0GENERAL", "U0ALICE", "U0BOB", "UBOT"


def start_run(app: AppUnderTest, slack: SlackServer, codegen: CodegenServer, text: str) -> tuple[int, str]:
    """A working run started by Alice's mention; returns its id and thread."""
    message = f"<@{BOT}> {text}"
    ts = slack.post_as_user(GENERAL, ALICE, message)
    app.event({"type": "app_mention", "channel": GENERAL, "user": ALICE, "text": message, "ts": ts})
    run_id = wait_for(codegen.runs, what="the run")[-1]["id"]
    wait_for(lambda: card(slack, ts, run_id), what="the run's card")
    return run_id, ts


def card(slack: SlackServer, thread_ts: str, run_id: int) -> dict[str, Any] | None:
    for message in slack.messages(GENERAL, thread_ts=thread_ts):
        if (message.get("metadata") or {}).get("event_payload", {}).get("run_id") == run_id:
            return message
    return None


def card_says(slack: SlackServer, thread_ts: str, run_id: int, text: str) -> dict[str, Any]:
    found = card(slack, thread_ts, run_id)
    return found if found and text in str(found["blocks"]) else {}


def stop_prompts(codegen: CodegenServer, run_id: int) -> list[str]:
    return [r["prompt"] for r in codegen.run_inputs(run_id)["resumes"] if r["prompt"] == STOP_PROMPT]


def press_stop(place: str, app: AppUnderTest, slack: SlackServer, run_id: int, ts: str, user: str) -> str:
    """Press Stop at `place` as `user`; returns what the bot answered (at once, or privately)."""
    if place == "button":
        click(app, card(slack, ts, run_id) or {}, STOP, user=user)
    elif place == "command":
        return str(app.command(f"stop {run_id}", user=user).json()["text"])
    else:
        app.event(session_stopped_event(GENERAL, ts, user, slack.post_as_user(GENERAL, user, ".")))
    said = wait_for(lambda: [e["text"] for e in slack.ephemerals(GENERAL, user)], what="a private answer")
    return str(said[-1])


@pytest.mark.parametrize("place", ["button", "command", "slack"])
def test_stop_sends_exactly_one_stop_follow_up_and_the_card_says_so(
    place: str, app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_run(app, slack_server, codegen_api, "rewrite the importer")
    said = press_stop(place, app, slack_server, run_id, ts, ALICE)
    assert "no call that cancels a run" in said
    waiting = wait_for(lambda: card_says(slack_server, ts, run_id, "Stop asked by <@U0ALICE>"), what="card")
    assert STOP not in str(waiting["blocks"])  # no second Stop button
    session = slack_server.agent.sessions[(GENERAL, ts)]
    wait_for(lambda: session.statuses[-1:] == ["active"], what="the session to leave processing")
    # Codegen takes a follow-up once the agent pauses for input (not finished); the stop then goes, once.
    codegen_api.set_status(run_id, "PAUSED")
    wait_for(lambda: stop_prompts(codegen_api, run_id), what="the stop follow-up")
    wait_for(lambda: card_says(slack_server, ts, run_id, "Stopped by <@U0ALICE>"), what="the card: sent")
    assert "sent the run one follow-up" in str(card(slack_server, ts, run_id))
    again = press_stop("command", app, slack_server, run_id, ts, ALICE)
    assert "already" in again
    assert len(stop_prompts(codegen_api, run_id)) == 1
    assert codegen_api.count(path="resume_run", status=200) == 1
    # The card says the stop waits: no "still working" notice in the thread.
    assert not any("still working" in str(m) for m in slack_server.messages(GENERAL, thread_ts=ts))


@pytest.mark.parametrize("first", ["sent", "dropped"])
def test_a_run_set_working_again_by_a_follow_up_can_be_stopped_again(
    first: str, app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_run(app, slack_server, codegen_api, "rewrite the importer")
    press_stop("command", app, slack_server, run_id, ts, ALICE)
    if first == "sent":
        codegen_api.set_status(run_id, "PAUSED")
        wait_for(lambda: stop_prompts(codegen_api, run_id), what="the first stop follow-up")
    else:
        wait_for(lambda: codegen_api.count(path="resume_run", status=422), what="Codegen to refuse it: busy")
    codegen_api.set_status(run_id, "COMPLETE", result="Stopped there.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="the run seen finished")
    reply = "now add the docs"
    reply_ts = slack_server.post_as_user(GENERAL, ALICE, reply, thread_ts=ts)
    app.event({"type": "message", "channel": GENERAL, "channel_type": "channel", "user": ALICE,
               "text": reply, "ts": reply_ts, "thread_ts": ts})  # fmt: skip
    wait_for(lambda: any(r["prompt"].endswith(reply) for r in codegen_api.run_inputs(run_id)["resumes"]),
             what="the follow-up")  # fmt: skip
    offered = lambda: STOP in str((card(slack_server, ts, run_id) or {}).get("blocks"))  # noqa: E731
    wait_for(offered, what="Stop offered again")
    assert "no call that cancels a run" in press_stop("command", app, slack_server, run_id, ts, ALICE)
    codegen_api.set_status(run_id, "PAUSED")
    wait_for(lambda: len(stop_prompts(codegen_api, run_id)) == (2 if first == "sent" else 1), what="the stop")
    assert "already" in press_stop("command", app, slack_server, run_id, ts, ALICE)  # this one stands
    wait_for(lambda: card_says(slack_server, ts, run_id, "Stopped by <@U0ALICE>"), what="the card: sent")


def test_stop_from_all_three_places_sends_one_follow_up(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_run(app, slack_server, codegen_api, "migrate the database")
    press_stop("button", app, slack_server, run_id, ts, ALICE)
    assert "already asked to stop" in press_stop("command", app, slack_server, run_id, ts, ALICE)
    app.event(session_stopped_event(GENERAL, ts, ALICE, slack_server.post_as_user(GENERAL, ALICE, ".")))
    wait_for(lambda: sum("already asked" in e["text"] for e in slack_server.ephemerals(GENERAL, ALICE)) == 1,
             what="Slack's stop to be answered")  # fmt: skip
    codegen_api.set_status(run_id, "PAUSED")
    wait_for(lambda: codegen_api.count(path="resume_run", status=200) == 1, what="the one stop follow-up")
    wait_for(lambda: card_says(slack_server, ts, run_id, "Stopped by"), what="the card: sent")
    assert len(stop_prompts(codegen_api, run_id)) == 1


@pytest.mark.parametrize("status", ["COMPLETE", "FAILED"])
def test_a_run_that_finishes_before_its_stop_is_sent_is_not_started_again(
    status: str, app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_run(app, slack_server, codegen_api, "rewrite the importer")
    assert "no call that cancels a run" in press_stop("command", app, slack_server, run_id, ts, ALICE)
    wait_for(lambda: card_says(slack_server, ts, run_id, "Stop asked by <@U0ALICE>"), what="card: waiting")
    wait_for(lambda: codegen_api.count(path="resume_run", status=422), what="Codegen to refuse it: busy")
    codegen_api.set_status(run_id, status, result="All done.")
    dropped = "finished before the stop could be sent, so nothing was sent"
    found = wait_for(lambda: card_says(slack_server, ts, run_id, dropped), what="the card: stop dropped")
    assert "Stopped by" not in str(found["blocks"])
    request = app.bot.store.stop_request(run_id)
    assert request is not None and request.state == "done"
    assert codegen_api.run_inputs(run_id)["resumes"] == []  # it would have started the run again
    assert app.bot.store.get_run(run_id).status == status
    finishes = [m for m in slack_server.messages(GENERAL, thread_ts=ts) if "All done." in str(m)]
    assert len(finishes) == 1


def test_stopping_a_finished_run_says_so_and_sends_nothing(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_run(app, slack_server, codegen_api, "tidy the README")
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="the run seen finished")
    said = app.command(f"stop {run_id}").json()["text"]
    assert "already finished (Complete)" in said and "Nothing was sent" in said
    said_ts = slack_server.post_as_user(GENERAL, ALICE, f"<@{BOT}> stop", thread_ts=ts)
    app.event({"type": "message", "channel": GENERAL, "channel_type": "channel", "user": ALICE,
               "text": f"<@{BOT}> stop", "ts": said_ts, "thread_ts": ts})  # fmt: skip
    wait_for(lambda: any("already finished" in e["text"] for e in slack_server.ephemerals(GENERAL, ALICE)),
             what="stop said in the thread to be answered")  # fmt: skip
    assert codegen_api.count(path="resume_run", status=200) == 0


def test_only_the_requester_or_an_admin_may_stop(
    make_app: Any, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    app = make_app(codegen_slack_admin_users="U0ADMIN")
    run_id, ts = start_run(app, slack_server, codegen_api, "bump dependencies")
    said = press_stop("button", app, slack_server, run_id, ts, BOB)
    assert "Only <@U0ALICE>, who started run" in said
    assert app.bot.store.stop_request(run_id) is None
    assert "Stop asked" not in str(card(slack_server, ts, run_id))


def test_a_runs_session_goes_processing_with_its_step_then_closed(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_run(app, slack_server, codegen_api, "Fix the flaky login test\nwith care")
    session = wait_for(lambda: slack_server.agent.sessions.get((GENERAL, ts)), what="the session")
    assert session.title == "Fix the flaky login test" and session.initiator == ALICE
    codegen_api.add_log(run_id, "ACTION", tool_name="run_command", tool_input={"command": "pytest -q"})
    wait_for(lambda: any("pytest -q" in text for text in session.loading), what="the step as loading text")
    codegen_api.set_status(run_id, "COMPLETE", result="Fixed.")
    # closed, and its loading text cleared (two calls: the test may look between them)
    wait_for(lambda: session.statuses[-1:] == ["closed"] and session.loading[-1:] == [""], what="closed")
    assert session.statuses == ["processing", "closed"]


def test_the_session_warns_when_the_stop_event_is_not_subscribed(
    codegen_api: CodegenServer, slack_server: SlackServer, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    slack_server.agent.subscribed.discard("agent_session_stopped")
    app = AppUnderTest(make_settings(codegen_api, slack_server, tmp_path / "bot.db")).start()
    try:
        start_run(app, slack_server, codegen_api, "add a health check")
        wait_for(lambda: "subscribe the app to agent_session_stopped" in caplog.text, what="the warning")
    finally:
        app.stop()


def test_the_loading_text_is_set_again_before_slack_drops_it(db_target: str) -> None:
    clock = FakeClock()
    store = Store(db_target)
    with start_slack_server(clock) as slack:
        out = SlackOut(make_web_client(slack.bot_token, slack.api_url), limits=SlackLimits(clock))
        runner = Runner(store, clock, [session_kind(store, out, clock)])
        ts = slack.post_as_user(GENERAL, ALICE, "fix the build")
        store.add_run(
            RunRecord(run_id=5, channel=GENERAL, thread_ts=ts, requester=ALICE, prompt="fix the build",
                      status="ACTIVE", created_at=clock.now(), latest_step="Running pytest -q")
        )  # fmt: skip
        store.show_session(5, clock.now())
        end = clock.now() + 10 * 60  # a long step: ten minutes without a new one
        while clock.now() < end:
            wait = runner.drain()
            shown = slack.agent.sessions[(GENERAL, ts)].loading_shown(clock.now())
            assert shown == "Running pytest -q", f"no loading text {clock.now() - end + 600:.0f} s in"
            clock.advance(min(wait or 30.0, 30.0))
        assert len(slack.agent.sessions[(GENERAL, ts)].loading) >= 6  # set again every 100 s
    store.close()


def test_a_stop_recorded_as_the_card_is_edited_gets_an_edit_of_its_own(db_target: str) -> None:
    store = Store(db_target)
    store.add_run(
        RunRecord(run_id=5, channel=GENERAL, thread_ts="1.1", requester=ALICE, prompt="fix the build",
                  status="COMPLETE", status_ts="1.2", created_at=1.0)
    )  # fmt: skip
    edit = store.claim(2.0, kinds=["card"], blocked=[], exclusive=[], lease_seconds=60)
    assert edit is not None
    shown = store.get_run(5)  # the edit showed the run before anyone pressed Stop...
    store.show_stop(5, 3.0)
    store.mark_card_shown(shown, 4.0)  # ...and the Stop was recorded just before it was noted shown
    assert store.get_run(5).shown_at is None  # so the card stays due: the next edit shows the Stop
    assert store.finish(edit, JobStatus.DONE, now=5.0)
    again = store.claim(6.0, kinds=["card"], blocked=[], exclusive=[], lease_seconds=60)
    assert again is not None and again.key == "card:5"
    store.close()


def test_a_queued_request_is_cancelled_before_it_starts_and_nothing_reaches_codegen(
    make_app, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    codegen_api.set_limits(create=1)
    app = make_app(codegen_creates_per_minute=1)
    for task in ("first task", "second task", "third task"):
        app.command(task)
    wait_for(codegen_api.runs, what="the first run")

    def message(task: str) -> dict[str, Any]:
        return next((m for m in slack_server.messages(GENERAL) if task in str(m.get("blocks"))), {})

    wait_for(lambda: "position 2" in message("third task").get("text", ""), what="the third one queued")
    queued = message("second task")
    click(app, queued, CANCEL_REQUEST, user=BOB)
    refused = wait_for(lambda: [e["text"] for e in slack_server.ephemerals(GENERAL, BOB)], what="Bob told")
    assert "Only <@U0ALICE>, who asked for it" in refused[-1]
    click(app, queued, CANCEL_REQUEST)
    said = wait_for(lambda: [e["text"] for e in slack_server.ephemerals(GENERAL, ALICE)], what="the answer")
    assert "nothing was sent to Codegen" in said[-1]
    shown = wait_for(lambda: "Cancelled by <@U0ALICE>" in slack_server.message(GENERAL, queued["ts"])["text"],
                     what="its message to say it was cancelled")  # fmt: skip
    assert shown and "actions" not in str(slack_server.message(GENERAL, queued["ts"]).get("blocks"))
    wait_for(lambda: "position 1" in message("third task").get("text", ""), what="the third one to move up")
    click(app, queued, CANCEL_REQUEST)  # pressed again, from a stale view
    wait_for(lambda: any("already cancelled" in e["text"] for e in slack_server.ephemerals(GENERAL, ALICE)),
             what="the second press answered")  # fmt: skip
    third = message("third task")  # `stop` said to the bot in its thread cancels it too
    said_ts = slack_server.post_as_user(GENERAL, ALICE, f"<@{BOT}> stop", thread_ts=third["ts"])
    app.event({"type": "message", "channel": GENERAL, "channel_type": "channel", "user": ALICE,
               "text": f"<@{BOT}> stop", "ts": said_ts, "thread_ts": third["ts"]})  # fmt: skip
    wait_for(lambda: "Cancelled by" in slack_server.message(GENERAL, third["ts"])["text"], what="cancelled")
    app.command("bobs task", user=BOB)  # Bob has no working run here: /codegen stop cancels this one
    wait_for(lambda: "Queued" in message("bobs task").get("text", ""), what="Bob's request queued")
    assert "nothing was sent to Codegen" in app.command("stop", user=BOB).json()["text"]
    (only,) = codegen_api.runs()  # the cancelled ones never reached Codegen
    assert "first task" in codegen_api.run_inputs(only["id"])["prompt"]
    entries = [e for e in app.bot.store.audit_entries() if e.detail and "cancel" in e.detail]
    expected = [(BOB, "refused"), (ALICE, "allowed"), (ALICE, "allowed"), (BOB, "allowed")]
    assert [(e.actor, e.outcome) for e in entries] == expected


def test_stop_said_in_the_thread_of_a_failed_run_cancels_its_queued_retry(
    make_app, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    codegen_api.set_limits(create=1)
    app = make_app(codegen_creates_per_minute=1)
    run_id, ts = start_run(app, slack_server, codegen_api, "fragile task")
    codegen_api.set_status(run_id, "FAILED", result="It broke.")
    wait_for(lambda: RETRY in str((card(slack_server, ts, run_id) or {}).get("blocks")), what="Retry")
    click(app, card(slack_server, ts, run_id) or {}, RETRY)
    in_thread = lambda word: [m for m in slack_server.messages(GENERAL, thread_ts=ts) if word in m["text"]]  # noqa: E731
    wait_for(lambda: in_thread("Queued"), what="the retry queued behind the create limit")
    said_ts = slack_server.post_as_user(GENERAL, ALICE, f"<@{BOT}> stop", thread_ts=ts)
    app.event({"type": "message", "channel": GENERAL, "channel_type": "channel", "user": ALICE,
               "text": f"<@{BOT}> stop", "ts": said_ts, "thread_ts": ts})  # fmt: skip
    wait_for(lambda: in_thread("Cancelled by <@U0ALICE>"), what="the retry cancelled")
    assert len(codegen_api.runs()) == 1  # the retry never reached Codegen


def test_a_follow_up_delivered_after_a_stop_lets_the_run_be_stopped_again(db_target: str) -> None:
    store = Store(db_target)
    store.add_run(RunRecord(run_id=5, channel=GENERAL, thread_ts="1.1", requester=ALICE, prompt="p",
                            status="ACTIVE", created_at=1.0))  # fmt: skip
    common = {"kind": "resume", "channel": GENERAL, "user": ALICE, "thread_ts": "1.1", "run_id": 5}
    held = store.add_request(key="follow_up:F2", prompt="F2 please", now=2.0, **common)  # busy: held
    stop = store.add_request(key=store.next_stop_key(5), prompt=STOP_PROMPT, now=3.0, **common)
    assert held and stop and store.stop_request(5) == stop
    store.mark_resumed(5, 4.0, request_id=stop.id)  # the Stop went first...
    store.update_request(stop.id, state="done")
    assert store.stop_request(5) is not None and store.next_stop_key(5) == "stop:5"  # pressing again: found
    store.mark_resumed(5, 5.0, request_id=held.id)  # ...then the earlier reply: the run works again
    assert store.stop_request(5) is None and store.next_stop_key(5) == "stop:5:1"
    store.close()
