"""When Codegen says no, or says nothing: the person who asked is told in words, and nothing is lost."""

from __future__ import annotations

import time

from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL = "C0GENERAL"


def status_text(slack: SlackServer) -> str:
    messages = slack.messages(GENERAL)
    return str(messages[0]) if messages else ""


def test_plan_limit_is_explained_in_the_status_message(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.fail_next(1, 402, method="POST", path="create_run")
    app.command("one more feature")
    wait_for(lambda: "allowance is used up" in status_text(slack_server), what="the plan-limit message")
    assert codegen_api.runs() == []


def test_no_access_tells_what_to_check(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.fail_next(1, 403, method="POST", path="create_run")
    app.command("do it")
    wait_for(lambda: "CODEGEN_API_TOKEN" in status_text(slack_server), what="the access message")


def test_outage_is_announced_once_and_the_run_starts_when_codegen_returns(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.fail_next(4, 503, method="POST", path="create_run")  # retried after 1, 2, 4 and 8 s
    app.command("survive the outage")
    root = wait_for(lambda: slack_server.messages(GENERAL), what="status message")[0]
    wait_for(lambda: codegen_api.runs(), timeout=40, what="the run once Codegen is back")
    replies = slack_server.messages(GENERAL, thread_ts=root["ts"])[1:]
    assert sum("not answering" in str(m) for m in replies) == 1
    assert len(codegen_api.runs()) == 1


def test_slash_command_in_channel_without_the_bot_reaches_the_requester_by_dm(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    slack_server.add_channel("C0PRIVATE", name="secret", members=["U0ALICE"], bot_member=False,
                             is_private=True)  # fmt: skip
    app.command("fix it", channel="C0PRIVATE")
    dm_text = wait_for(
        lambda: [
            e
            for e in slack_server.calls
            if e.method == "chat.postMessage" and e.ok and str(e.params.get("channel", "")).startswith("D")
        ],
        what="a DM",
    )
    assert "/invite" in str(dm_text)
    time.sleep(0.2)
    assert codegen_api.runs() == []


def test_revoked_slack_token_turns_health_red(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    slack_server.fail_next("chat.postMessage", "token_revoked", count=5)
    app.command("anything")
    wait_for(lambda: app.http.get("/healthz").status_code == 503, what="health to turn red")
    assert app.http.get("/healthz").json()["slack"] == "token_revoked"


def test_follow_up_during_outage_is_announced_once_and_delivered_later(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app.command("first pass")
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    root = wait_for(lambda: app.bot.store.get_run(run_id), what="run stored").thread_ts
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="finished")
    codegen_api.fail_next(1, 503, method="POST", path="resume_run")
    ts = slack_server.post_as_user(GENERAL, "U0BOB", "now the tests please", thread_ts=root)
    app.event(
        {
            "type": "message",
            "channel": GENERAL,
            "channel_type": "channel",
            "user": "U0BOB",
            "text": "now the tests please",
            "ts": ts,
            "thread_ts": root,
        }
    )
    wait_for(lambda: codegen_api.count(path="resume_run", status=200) == 1, timeout=40, what="delivery")
    thread = [str(m) for m in slack_server.messages(GENERAL, thread_ts=root)]
    assert sum("not answering" in m for m in thread) == 1
    wait_for(
        lambda: any(
            "Passed your follow-up on" in str(m) for m in slack_server.messages(GENERAL, thread_ts=root)
        ),
        what="delivered notice",
    )


def test_slash_command_in_a_public_channel_without_the_bot_joins_it_so_replies_arrive(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    slack_server.add_channel("C0OPEN", name="open", members=["U0ALICE"], bot_member=False)
    app.command("fix it", channel="C0OPEN")
    wait_for(codegen_api.runs, what="the run")
    wait_for(lambda: slack_server.messages("C0OPEN"), what="the status message in the channel")
    assert slack_server.count("conversations.join", ok=True) == 1
    app.bot.web.chat_postMessage(channel="C0OPEN", text="a member now", thread_ts=None)
    assert [call.error for call in slack_server.calls if call.method == "chat.postMessage"][-1] is None


def test_a_refusal_that_has_passed_does_not_keep_the_bot_unhealthy(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.fail_next(1, 403, method="POST", path="create_run")  # once; the token is fine
    app.command("do it")
    wait_for(lambda: "CODEGEN_API_TOKEN" in status_text(slack_server), what="the access message")
    assert app.http.get("/healthz").status_code == 503
    wait_for(lambda: app.http.get("/healthz").status_code == 200, what="healthy again after the probe")


def test_a_blip_that_passes_at_once_leaves_no_outage_notice(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.fail_next(1, 503, method="POST", path="create_run")
    app.command("survive the blip")
    root = wait_for(lambda: slack_server.messages(GENERAL), what="status message")[0]
    wait_for(lambda: codegen_api.runs(), timeout=20, what="the run after one retry")
    wait_for(lambda: app.bot.store.get_run(codegen_api.runs()[0]["id"]), what="the run stored")
    assert not any("not answering" in str(m) for m in slack_server.messages(GENERAL, thread_ts=root["ts"]))
