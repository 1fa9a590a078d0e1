"""Previews of Codegen run links, end to end: a pasted link of the bot's run is unfurled once with its
status, prompt, requester, repository and pull requests, both as classic blocks and as a Work Object
(a Slack Task) in the same chat.unfurl call; a run started elsewhere is read by id; a run the bot
cannot read is "not available" and has no Work Object; a Work Object Slack refuses leaves the
classic preview."""

from __future__ import annotations

from typing import Any

from bot.render.unfurls import run_id_of
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_agent_api import link_shared_event
from tests.servers.slack_server import SlackServer

GENERAL, RANDOM, ALICE, BOB = "C0GENERAL", "C0RANDOM", "U0ALICE", "U0BOB"


def paste(app: AppUnderTest, slack: SlackServer, urls: list[str], *, user: str = BOB) -> str:
    """Post a message with `urls` as `user` and deliver its link_shared event; returns its ts."""
    ts = slack.post_as_user(GENERAL, user, "have a look: " + " ".join(f"<{url}>" for url in urls))
    assert app.event(link_shared_event(GENERAL, user, ts, urls)).status_code == 200
    return ts


def preview(slack: SlackServer, ts: str, url: str) -> str:
    unfurls: dict[str, Any] = slack.agent.unfurls.get((GENERAL, ts)) or {}
    return str(unfurls.get(url, {}).get("blocks") or "")


def work_object(slack: SlackServer, ts: str) -> dict[str, Any]:
    """The message's one Work Object, as Slack was given it."""
    (entity,) = slack.agent.work_objects[(GENERAL, ts)]
    return entity


def custom(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity's custom fields' values by key."""
    return {field["key"]: field["value"] for field in entity["entity_payload"].get("custom_fields") or []}


def test_a_pasted_run_link_is_unfurled_once_with_the_runs_details(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    codegen_api.add_repo("acme/web")
    app.command("fix the flaky login test repo=acme/web")
    run_id = wait_for(codegen_api.runs, what="the run")[-1]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="the run stored")
    codegen_api.add_pull_request(run_id, title="Fix login", url="https://github.com/acme/web/pull/7")
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).pull_requests, what="the PR seen")
    url = codegen_api.run(run_id)["web_url"]
    ts = paste(app, slack_server, [url])
    app.event(link_shared_event(GENERAL, BOB, ts, [url]))  # Slack may deliver it twice
    shown = wait_for(lambda: preview(slack_server, ts, url), what="the preview")
    assert f"Codegen run #{run_id}" in shown and "COMPLETE" in shown
    assert "fix the flaky login test" in shown and "<@U0ALICE>" in shown and "acme/web" in shown
    assert "Fix login" in shown and "github.com/acme/web/pull/7" in shown
    assert slack_server.count("chat.unfurl") == 1
    task = work_object(slack_server, ts)  # sent in that same call
    payload, fields = task["entity_payload"], task["entity_payload"]["fields"]
    assert task["entity_type"] == "slack#/entities/task" and task["app_unfurl_url"] == url
    assert task["external_ref"]["id"] == str(run_id) and task["url"] == url
    assert payload["attributes"]["title"]["text"] == "fix the flaky login test"
    assert fields["status"] == {"value": "COMPLETE", "tag_color": "green"}
    assert fields["assignee"]["user"] == {"user_id": ALICE} and fields["date_created"]["value"] > 0
    assert custom(task)["repository"] == "acme/web"
    assert custom(task)["pull_requests"] == "[Fix login](https://github.com/acme/web/pull/7)"


def test_a_run_the_bot_did_not_start_is_read_by_id(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    other = codegen_api.add_run(status="RUNNING", summary="Upgrading the payment SDK")
    url = codegen_api.run(other["id"])["web_url"]
    ts = paste(app, slack_server, [url])
    shown = wait_for(lambda: preview(slack_server, ts, url), what="the preview")
    assert f"Codegen run #{other['id']}" in shown and "RUNNING" in shown
    assert "Upgrading the payment SDK" in shown and "Started outside" in shown
    task = work_object(slack_server, ts)
    fields = task["entity_payload"]["fields"]
    assert task["entity_payload"]["attributes"]["title"]["text"] == f"Codegen run #{other['id']}"
    assert fields["status"] == {"value": "RUNNING", "tag_color": "blue"} and "assignee" not in fields
    assert fields["description"]["value"].startswith("Upgrading the payment SDK")


def test_a_link_of_a_run_the_bot_cannot_read_is_not_available(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    url = "https://codegen.com/agent/trace/99999999"
    ts = paste(app, slack_server, [url, "https://example.com/agent/trace/5"])
    shown = wait_for(lambda: preview(slack_server, ts, url), what="the preview")
    assert "Codegen run #99999999" in shown and "not available" in shown
    assert list(slack_server.agent.unfurls[(GENERAL, ts)]) == [url]  # other sites' links are left alone
    assert slack_server.agent.work_objects[(GENERAL, ts)] == []  # nothing to show as a Task
    assert "metadata" not in slack_server.agent.unfurl_calls[-1]


def test_a_work_object_slack_refuses_leaves_the_classic_preview(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    other = codegen_api.add_run(status="COMPLETE", summary="Bumped the SDK")
    url = codegen_api.run(other["id"])["web_url"]
    slack_server.fail_next("chat.unfurl", "error_processing_metadata")
    ts = paste(app, slack_server, [url])
    shown = wait_for(lambda: preview(slack_server, ts, url), what="the preview")
    assert f"Codegen run #{other['id']}" in shown and "Bumped the SDK" in shown
    unfurls = [
        (call.ok, "metadata" in call.params) for call in slack_server.calls if call.method == "chat.unfurl"
    ]
    assert unfurls == [(False, True), (True, False)]  # the Work Object was refused; the blocks went alone
    assert slack_server.agent.work_objects[(GENERAL, ts)] == []


def test_only_run_links_of_the_codegen_domain_are_recognised() -> None:
    assert run_id_of("https://codegen.com/agent/trace/40001", "codegen.com") == 40001
    assert run_id_of("https://www.codegen.com/agent/trace/7/", "codegen.com") == 7
    assert run_id_of("https://codegen.com.evil.example/agent/trace/7", "codegen.com") is None
    assert run_id_of("https://codegen.com/agent/trace/abc", "codegen.com") is None
    assert run_id_of("ftp://codegen.com/agent/trace/7", "codegen.com") is None


def test_a_refreshed_preview_shows_the_run_as_it_is_now(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    app.command("add dark mode")
    run_id = wait_for(codegen_api.runs, what="the run")[-1]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="the run stored")
    url = codegen_api.run(run_id)["web_url"]
    ts = paste(app, slack_server, [url])
    wait_for(lambda: "ACTIVE" in preview(slack_server, ts, url), what="the first preview")
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="the finish seen")
    refresh = {**link_shared_event(GENERAL, BOB, ts, [url]), "event_ts": f"{float(ts) + 60:.6f}"}
    assert app.event(refresh).status_code == 200  # the Work Object's refresh button
    wait_for(lambda: "COMPLETE" in preview(slack_server, ts, url), what="the refreshed preview")
    assert work_object(slack_server, ts)["entity_payload"]["fields"]["status"]["value"] == "COMPLETE"
    assert slack_server.count("chat.unfurl") == 2
