"""Allow lists, the resume policy and the per-user cap, seen from Slack."""

from __future__ import annotations

import time

from tests.harness import wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB, BOT = "C0GENERAL", "U0ALICE", "U0BOB", "UBOT"


def test_user_outside_allow_list_is_refused_privately(make_app, codegen_api: CodegenServer) -> None:
    app = make_app(codegen_slack_allowed_users=ALICE)
    refused = app.command("delete everything", user=BOB).json()
    assert refused["response_type"] == "ephemeral" and "not on the list" in refused["text"]
    app.command("fix the build", user=ALICE)
    wait_for(codegen_api.runs, what="Alice's run")
    time.sleep(0.3)
    assert [codegen_api.run_inputs(r["id"])["prompt"] for r in codegen_api.runs()] == ["fix the build"]


def test_channel_outside_allow_list_refuses_mentions(
    make_app, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    slack_server.add_channel("C0RANDOM", name="random", members=[ALICE])
    app = make_app(codegen_slack_allowed_channels=GENERAL)
    ts = slack_server.post_as_user("C0RANDOM", ALICE, f"<@{BOT}> fix it")
    app.event(
        {"type": "app_mention", "channel": "C0RANDOM", "user": ALICE, "text": f"<@{BOT}> fix it", "ts": ts}
    )
    note = wait_for(lambda: slack_server.ephemerals("C0RANDOM", ALICE), what="a private refusal")
    assert "isn't enabled in this channel" in str(note)
    assert codegen_api.runs() == []


def test_requester_only_policy_refuses_others_follow_ups(
    make_app, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    app = make_app(codegen_slack_resume_policy="requester")
    app.command("write the migration", user=ALICE)
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    root = wait_for(lambda: app.bot.store.get_run(run_id), what="run stored").thread_ts
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="finished")
    ts = slack_server.post_as_user(GENERAL, BOB, "also drop the old table", thread_ts=root)
    app.event(
        {
            "type": "message",
            "channel": GENERAL,
            "channel_type": "channel",
            "user": BOB,
            "text": "also drop the old table",
            "ts": ts,
            "thread_ts": root,
        }
    )
    note = wait_for(lambda: slack_server.ephemerals(GENERAL, BOB), what="refusal")
    assert "Only <@U0ALICE>" in str(note)
    time.sleep(0.3)
    assert codegen_api.count(path="resume_run") == 0


def test_per_user_hourly_cap(make_app, codegen_api: CodegenServer) -> None:
    app = make_app(codegen_slack_runs_per_user_per_hour=2)
    assert app.command("one").content == b""
    assert app.command("two").content == b""
    assert "2 runs in the last hour" in app.command("three").json()["text"]
    assert app.command("from bob", user=BOB).content == b""  # Alice's runs don't count against Bob
    wait_for(lambda: len(codegen_api.runs()) == 3, what="three runs")
    time.sleep(0.3)
    assert sorted(codegen_api.run_inputs(r["id"])["prompt"] for r in codegen_api.runs()) == [
        "from bob",
        "one",
        "two",
    ]
