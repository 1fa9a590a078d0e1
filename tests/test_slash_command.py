"""`/codegen` end to end: signed request → ack → run created → status message → result in the thread."""

from __future__ import annotations

import time

from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL = "C0GENERAL"


def _channel_messages(slack: SlackServer) -> list[dict]:
    return slack.messages(GENERAL)


def test_command_starts_run_and_posts_one_status_message(app: AppUnderTest, codegen_api: CodegenServer,
                                                         slack_server: SlackServer) -> None:
    response = app.command("fix the flaky login test")
    assert response.status_code == 200
    assert response.text in ("", "{}") or "text" not in response.json()

    runs = wait_for(codegen_api.runs, what="the run to be created")
    assert len(runs) == 1 and runs[0]["prompt"] if "prompt" in runs[0] else True
    run_id = runs[0]["id"]
    wait_for(lambda: str(run_id) in str(_channel_messages(slack_server)), what="the run link in the message")
    messages = _channel_messages(slack_server)
    assert len(messages) == 1
    text = str(messages[0])
    assert "<@U0ALICE>" in text and "fix the flaky login test" in text


def test_finished_run_is_announced_in_thread_with_pull_request(app: AppUnderTest, codegen_api: CodegenServer,
                                                              slack_server: SlackServer) -> None:
    app.command("add dark mode")
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    root = wait_for(lambda: _channel_messages(slack_server), what="status message")[0]
    codegen_api.add_pull_request(run_id, title="Add dark mode", url="https://github.com/acme/web/pull/7")
    codegen_api.set_status(run_id, "COMPLETE", result="Added **dark mode** to `settings`.")

    def replies() -> list[dict]:
        return slack_server.messages(GENERAL, thread_ts=root["ts"])[1:]

    wait_for(replies, what="the result in the thread")
    time.sleep(0.6)  # several more watcher and notifier rounds: nothing more may be posted
    posted = replies()
    assert len(posted) == 1
    result = str(posted[0])
    assert "*dark mode*" in result and "https://github.com/acme/web/pull/7" in result
    assert "white_check_mark" in slack_server.message(GENERAL, root["ts"]).get("reactions", {})
    assert "COMPLETE" in str(slack_server.message(GENERAL, root["ts"])["blocks"])


def test_help_status_and_list_answer_only_the_caller(app: AppUnderTest, codegen_api: CodegenServer,
                                                     slack_server: SlackServer) -> None:
    assert "/codegen status" in app.command("help").json()["text"]
    assert app.command("help").json().get("response_type", "ephemeral") == "ephemeral"
    app.command("write docs")
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="run stored")
    assert str(run_id) in app.command("list").json()["text"]
    assert str(run_id) in app.command(f"status {run_id}").json()["text"]
    assert str(run_id) in app.command("status").json()["text"]
    assert "don't know" in app.command("status 999999").json()["text"]


def test_empty_prompt_gets_usage_and_no_run(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    body = app.command("   ").json()
    assert "/codegen" in body["text"]
    time.sleep(0.3)
    assert codegen_api.runs() == []


def test_unknown_repository_names_close_matches(app: AppUnderTest, codegen_api: CodegenServer,
                                                slack_server: SlackServer) -> None:
    codegen_api.add_repo("acme/web")
    codegen_api.add_repo("acme/api")
    app.command("fix it repo=acme/wbe")
    note = wait_for(lambda: slack_server.ephemerals(GENERAL, "U0ALICE"), what="an ephemeral error")
    assert "acme/web" in str(note)
    assert codegen_api.runs() == []


def test_unknown_repository_with_nothing_close_names_the_organizations_repositories(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    for number in range(12):
        codegen_api.add_repo(f"acme/service-{number:02d}")
    app.command("repo=nope/nothing fix it")
    note = str(wait_for(lambda: slack_server.ephemerals(GENERAL, "U0ALICE"), what="an ephemeral error"))
    assert "no repository called `nope/nothing`" in note
    listed = "`, `".join(f"acme/service-{number:02d}" for number in range(10))
    assert f"The organization's repositories: `{listed}`, and 2 more: `/codegen repos`." in note
    assert codegen_api.runs() == []


def test_known_repository_and_model_reach_codegen(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    repo = codegen_api.add_repo("acme/web")
    app.command("fix it repo=acme/web model=claude-sonnet")
    run = wait_for(codegen_api.runs, what="run")[0]
    inputs = codegen_api.run_inputs(run["id"])
    assert inputs["repo_id"] == repo["id"] and inputs["model"] == "claude-sonnet"
    assert inputs["prompt"] == "fix it"


def test_ack_is_fast_while_codegen_is_slow(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    codegen_api.delay_next(1, 5.0, method="POST", path="create_run")
    started = time.monotonic()
    response = app.command("slow create")
    assert response.status_code == 200
    assert time.monotonic() - started < 3.0
    wait_for(codegen_api.runs, timeout=15, what="the slow create to finish")


def test_metrics_and_health_describe_the_bot(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    app.command("count me")
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="run stored")
    health = app.http.get("/healthz")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    metrics = app.http.get("/metrics").text
    assert 'codegen_slack_runs{status="ACTIVE"} 1.0' in metrics
    assert 'codegen_slack_codegen_calls_total{limit_class="create",outcome="200"} 1.0' in metrics
    assert 'codegen_slack_slack_calls_total{method="chat.postMessage",outcome="ok"}' in metrics


def test_huge_result_is_split_within_slack_limits(app: AppUnderTest, codegen_api: CodegenServer,
                                                  slack_server: SlackServer) -> None:
    app.command("write a novel")
    run_id = wait_for(codegen_api.runs, what="run")[0]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="run stored")
    root = wait_for(lambda: _channel_messages(slack_server), what="status message")[0]
    chapter = "## Chapter\n\nIt was a **dark** night. " * 40 + "\n```python\nprint('x' * 80)\n```\n"
    for index in range(6):
        codegen_api.add_pull_request(run_id, title=f"PR {index}", url=f"https://github.com/a/b/pull/{index}")
    codegen_api.set_status(run_id, "COMPLETE", result=chapter * 60)
    wait_for(lambda: app.bot.store.get_run(run_id).finished and not app.bot.store.announcement_due(run_id),
             what="the announcement")
    wait_for(lambda: slack_server.messages(GENERAL, thread_ts=root["ts"])[1:], what="result parts")
    time.sleep(0.3)
    parts = slack_server.messages(GENERAL, thread_ts=root["ts"])[1:]
    assert 2 <= len(parts) <= 5
    assert slack_server.count("chat.postMessage", ok=False) == 0
    assert slack_server.count("chat.update", ok=False) == 0
    assert "full result" in str(parts[-1])


def test_stop_status_and_pr_with_a_bad_run_id_say_why_and_start_no_run(
    app: AppUnderTest, codegen_api: CodegenServer
) -> None:
    answers = {
        "stop abc": "Run ids are numbers, like /codegen stop 123 (not 'abc').",
        "stop 40007 now": "/codegen stop takes one run id",
        "pr 40005 extra": "/codegen pr takes one run id",
        "pr abc": "Run ids are numbers, like /codegen pr 123 (not 'abc').",
    }
    huge = "123456789012345678901234567890"  # beyond 64 bits: it can't be one of Codegen's runs
    for keyword in ("status", "stop", "pr"):
        answers[f"{keyword} {huge}"] = f"There is no run #{huge}"
    for text, says in answers.items():
        assert says in app.command(text).json()["text"], text
    app.command("stop the deploy script from failing on Fridays")  # a prompt that starts with stop
    started = wait_for(codegen_api.runs, what="the run")
    assert [codegen_api.run_inputs(r["id"])["prompt"] for r in started] == [
        "stop the deploy script from failing on Fridays"
    ]
