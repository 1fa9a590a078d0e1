"""Mentions, DMs and thread replies end to end: new runs, resumes, and what the bot must ignore."""

from __future__ import annotations

import time

import pytest

from tests.conftest import BACKENDS
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB, BOT = "C0GENERAL", "U0ALICE", "U0BOB", "UBOT"

# Every conversation here runs on both backends: the paths users take most.
pytestmark = pytest.mark.parametrize("app_db", BACKENDS, indirect=True)


def mention(slack: SlackServer, text: str, *, user: str = ALICE, thread_ts: str | None = None) -> dict:
    ts = slack.post_as_user(GENERAL, user, f"<@{BOT}> {text}", thread_ts=thread_ts)
    event = {"type": "app_mention", "channel": GENERAL, "user": user, "text": f"<@{BOT}> {text}", "ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def reply(slack: SlackServer, thread_ts: str, text: str, *, user: str = BOB, **extra: object) -> dict:
    ts = slack.post_as_user(GENERAL, user, text, thread_ts=thread_ts)
    return {"type": "message", "channel": GENERAL, "channel_type": "channel", "user": user, "text": text,
            "ts": ts, "thread_ts": thread_ts, **extra}


def start_run_by_mention(app: AppUnderTest, slack: SlackServer, codegen: CodegenServer) -> tuple[int, str]:
    event = mention(slack, "refactor the billing module")
    assert app.event(event).status_code == 200
    run_id = wait_for(codegen.runs, what="run")[-1]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="run stored")
    return run_id, event["ts"]


def test_mention_starts_run_answered_in_its_thread(app: AppUnderTest, slack_server: SlackServer,
                                                   codegen_api: CodegenServer) -> None:
    run_id, ts = start_run_by_mention(app, slack_server, codegen_api)
    assert codegen_api.run_inputs(run_id)["prompt"] == "refactor the billing module"
    thread = wait_for(lambda: slack_server.messages(GENERAL, thread_ts=ts)[1:], what="status reply")
    assert len(thread) == 1 and "<@U0ALICE>" in str(thread[0])


def test_reply_in_run_thread_resumes_the_run_with_a_reaction(app: AppUnderTest, slack_server: SlackServer,
                                                             codegen_api: CodegenServer) -> None:
    run_id, ts = start_run_by_mention(app, slack_server, codegen_api)
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: (app.bot.store.get_run(run_id).status == "COMPLETE"), what="run seen complete")
    event = reply(slack_server, ts, "also add tests &amp; docs")
    app.event(event)
    # The double records a call after checking it against the contract: wait for the record itself.
    wait_for(lambda: codegen_api.count(path="resume_run") == 1, what="the run to be resumed")
    assert codegen_api.run(run_id)["status"] == "ACTIVE"
    reactions = wait_for(lambda: slack_server.message(GENERAL, event["ts"]).get("reactions"), what="reaction")
    assert "eyes" in reactions


def test_mention_in_run_thread_is_one_resume_not_two(app: AppUnderTest, slack_server: SlackServer,
                                                     codegen_api: CodegenServer) -> None:
    run_id, ts = start_run_by_mention(app, slack_server, codegen_api)
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="run seen finished")
    event = mention(slack_server, "one more thing", thread_ts=ts)
    app.event(event)
    app.event({**event, "type": "message", "channel_type": "channel"})
    wait_for(lambda: codegen_api.count(path="resume_run") >= 1, what="resume")
    time.sleep(0.5)
    assert codegen_api.count(path="resume_run") == 1


def test_duplicate_delivery_makes_one_run(app: AppUnderTest, slack_server: SlackServer,
                                          codegen_api: CodegenServer) -> None:
    event = mention(slack_server, "write a changelog")
    app.event(event, event_id="EvSAME")
    app.event(event, event_id="EvSAME")
    app.event(event, event_id="EvOTHER")  # Socket Mode redelivery can come with a new envelope
    wait_for(codegen_api.runs, what="run")
    time.sleep(0.5)
    assert len(codegen_api.runs()) == 1


def test_bot_messages_edits_and_deletions_are_ignored(app: AppUnderTest, slack_server: SlackServer,
                                                      codegen_api: CodegenServer) -> None:
    run_id, ts = start_run_by_mention(app, slack_server, codegen_api)
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="run seen finished")
    ignored = [
        reply(slack_server, ts, "from another bot", bot_id="B999", subtype="bot_message"),
        reply(slack_server, ts, "from myself", user=BOT),
        reply(slack_server, ts, "edited", subtype="message_changed"),
        reply(slack_server, ts, "gone", subtype="message_deleted"),
    ]
    for event in ignored:
        assert app.event(event).status_code == 200
    time.sleep(0.5)
    assert codegen_api.count(path="resume_run") == 0


def test_reply_to_busy_run_is_held_then_delivered(app: AppUnderTest, slack_server: SlackServer,
                                                  codegen_api: CodegenServer) -> None:
    run_id, ts = start_run_by_mention(app, slack_server, codegen_api)
    app.event(reply(slack_server, ts, "use postgres, not mysql"))
    wait_for(lambda: any("still working" in str(m) for m in slack_server.messages(GENERAL, thread_ts=ts)),
             what="the held notice")
    assert codegen_api.run(run_id)["status"] == "ACTIVE"
    codegen_api.set_status(run_id, "COMPLETE", result="First pass done.")
    wait_for(lambda: codegen_api.count(path="resume_run", status=200) == 1, timeout=15,
             what="the held reply to be delivered")
    time.sleep(0.3)
    held = [m for m in slack_server.messages(GENERAL, thread_ts=ts) if "still working" in str(m)]
    assert len(held) == 1


def test_dm_starts_run_answered_in_the_dm_thread(app: AppUnderTest, slack_server: SlackServer,
                                                 codegen_api: CodegenServer) -> None:
    dm = slack_server.open_dm(ALICE) if hasattr(slack_server, "open_dm") else "D0ALICE"
    if dm == "D0ALICE":
        slack_server.add_channel(dm, name="dm", members=[ALICE])
    ts = slack_server.post_as_user(dm, ALICE, "bump the lodash version")
    app.event({"type": "message", "channel": dm, "channel_type": "im", "user": ALICE,
               "text": "bump the lodash version", "ts": ts})
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    assert codegen_api.run_inputs(run_id)["prompt"] == "bump the lodash version"
    wait_for(lambda: slack_server.messages(dm, thread_ts=ts)[1:], what="the DM thread reply")


def test_mention_in_thread_without_run_passes_thread_as_context(app: AppUnderTest, slack_server: SlackServer,
                                                                codegen_api: CodegenServer) -> None:
    root = slack_server.post_as_user(GENERAL, BOB, "checkout fails with a 500 since this morning")
    slack_server.post_as_user(GENERAL, ALICE, "stack trace points at PriceService", thread_ts=root)
    app.event(mention(slack_server, "please investigate", thread_ts=root))
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    prompt = codegen_api.run_inputs(run_id)["prompt"]
    assert prompt.startswith("please investigate")
    assert "checkout fails with a 500" in prompt and "PriceService" in prompt
    assert "[@bob]" in prompt and "not instructions" in prompt


def test_reply_while_the_run_is_being_made_is_delivered_to_it(app: AppUnderTest, slack_server: SlackServer,
                                                              codegen_api: CodegenServer) -> None:
    codegen_api.delay_next(1, 1.5, path="create_run")  # the run takes a moment to be made
    event = mention(slack_server, "refactor the billing module")
    app.event(event)
    early = reply(slack_server, event["ts"], "and keep the public API as it is")
    app.event(early)
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    wait_for(lambda: "eyes" in slack_server.message(GENERAL, early["ts"]).get("reactions", {}),
             what="the reply acknowledged")
    codegen_api.set_status(run_id, "COMPLETE", result="Refactored.")
    wait_for(lambda: codegen_api.count(path="resume_run", status=200) == 1, timeout=15,
             what="the early reply delivered to the run")
    assert len(codegen_api.runs()) == 1
    assert "keep the public API" in str(codegen_api.run_inputs(run_id)["resumes"])


def test_reply_to_a_run_that_never_started_is_answered_privately(app: AppUnderTest, slack_server: SlackServer,
                                                                 codegen_api: CodegenServer) -> None:
    codegen_api.delay_next(1, 1.5, path="repos")  # looking the repository up takes a moment
    event = mention(slack_server, "refactor the billing module repo=acme/nope")
    app.event(event)
    early = reply(slack_server, event["ts"], "and keep the public API as it is")
    app.event(early)
    refused = wait_for(
        lambda: [e for e in slack_server.ephemerals(GENERAL, BOB) if "follow-up" in e["text"]],
        what="the reply's author told",
    )
    assert "never started" in refused[0]["text"]
    assert codegen_api.runs() == [] and codegen_api.count(path="resume_run") == 0


def test_thread_context_names_people_instead_of_their_ids(app: AppUnderTest, slack_server: SlackServer,
                                                         codegen_api: CodegenServer) -> None:
    slack_server.add_user("U0CAROL", "carol", real_name="Carol Danvers", display_name="Captain")
    root = slack_server.post_as_user(GENERAL, BOB, "checkout fails since <@U0CAROL|carol>'s deploy")
    slack_server.post_as_user(GENERAL, "U0CAROL", f"<@{BOB}> rolling it back; <@{ALICE}> FYI", thread_ts=root)
    app.event(mention(slack_server, "please investigate", thread_ts=root))
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    prompt = codegen_api.run_inputs(run_id)["prompt"]
    assert prompt.startswith("please investigate\n")
    assert prompt.endswith("> [@bob]: checkout fails since @Captain's deploy\n"
                           "> [@Captain]: @bob rolling it back; @alice FYI")
    assert not any(user_id in prompt for user_id in ("U0BOB", "U0CAROL", "U0ALICE"))
    assert slack_server.count("users.info", ok=True) == 3  # one lookup per person


def test_thread_context_keeps_the_id_when_slack_cannot_name(app: AppUnderTest, slack_server: SlackServer,
                                                            codegen_api: CodegenServer) -> None:
    root = slack_server.post_as_user(GENERAL, BOB, "checkout fails with a 500 since this morning")
    assert "/codegen" in app.command("help").text  # Alice's own account is checked (and kept) first
    slack_server.fail_next("users.info", "user_not_found")
    app.event(mention(slack_server, "please investigate", thread_ts=root))
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    prompt = codegen_api.run_inputs(run_id)["prompt"]
    assert prompt.startswith("please investigate\n")
    assert "> [U0BOB]: checkout fails with a 500 since this morning" in prompt
    assert slack_server.count("users.info", ok=False) == 1


def test_mentioning_stop_with_a_word_that_is_no_run_id_says_why_and_starts_no_run(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    app.event(mention(slack_server, "stop abc"))
    said = "Run ids are numbers, like /codegen stop 123 (not 'abc')."
    seen = lambda: str(slack_server.ephemerals(GENERAL, ALICE)) + str(slack_server.messages(GENERAL))  # noqa: E731
    wait_for(lambda: said in seen(), what="the answer")
    start_run_by_mention(app, slack_server, codegen_api)
    assert [codegen_api.run_inputs(r["id"])["prompt"] for r in codegen_api.runs()] == [
        "refactor the billing module"
    ]
