"""One prompt sent to several repositories, end to end: one run per repository (each its own thread),
one parent message whose table follows them, one summary; and the limit on how many."""

from __future__ import annotations

import json
from typing import Any

from bot.codegen import Repository
from bot.prompt_groups import expand_repositories
from tests.harness import AppUnderTest, wait_for
from tests.interactions import submit
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.test_cards_and_buttons import _card
from tests.test_images import mention_with_files
from tests.test_modal_and_shortcut import form, open_modal

GENERAL, ALICE = "C0GENERAL", "U0ALICE"


def group_posts(slack: SlackServer, part: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
    messages = slack.messages(GENERAL, thread_ts=thread_ts) if thread_ts else slack.messages(GENERAL)
    return [
        m for m in messages
        if (m.get("metadata") or {}).get("event_type") == "codegen_prompt_group"
        and m["metadata"]["event_payload"]["part"] == part
    ]  # fmt: skip


def table_rows(parent: dict[str, Any]) -> list[list[str]]:
    """The parent's table as text: raw_text cells, and the link texts of rich_text cells."""
    rows = parent["attachments"][0]["blocks"][0]["rows"]

    def text(cell: dict[str, Any]) -> str:
        if cell["type"] == "raw_text":
            return cell["text"]
        return "".join(e.get("text", "") for s in cell["elements"] for e in s["elements"])

    return [[text(cell) for cell in row] for row in rows]


def test_three_repositories_make_three_runs_one_live_table_and_one_summary(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    repos = {name: codegen_api.add_repo(name)["id"] for name in ("acme/web", "acme/api", "acme/docs")}
    assert app.command("repo=acme/web,acme/api,acme/docs bump lodash").status_code == 200
    runs = wait_for(lambda: len(codegen_api.runs()) == 3 and codegen_api.runs(), what="three runs")
    inputs = [codegen_api.run_inputs(r["id"]) for r in runs]
    sent = [(i["repo_id"], i["prompt"]) for i in inputs]
    assert sent == [(repos["acme/web"], "bump lodash"), (repos["acme/api"], "bump lodash"),
                    (repos["acme/docs"], "bump lodash")]  # fmt: skip

    cards = [wait_for(lambda r=r: _card(slack_server, r["id"]), what="each run's card") for r in runs]
    assert len({card["ts"] for card in cards}) == 3  # each run roots its own thread
    assert all(not card.get("thread_ts") for card in cards)
    parent = wait_for(lambda: group_posts(slack_server, "parent"), what="the parent message")
    assert len(parent) == 1

    for run, title in zip(runs, ("Web", "Api", "Docs"), strict=True):
        codegen_api.add_pull_request(run["id"], title=f"Bump lodash in {title}",
                                     url=f"https://github.com/acme/{title.lower()}/pull/1")  # fmt: skip
    codegen_api.set_status(runs[0]["id"], "COMPLETE", result="Bumped.")
    codegen_api.set_status(runs[1]["id"], "FAILED", result="Tests failed.")
    wait_for(lambda: "run #" in str(table_rows(group_posts(slack_server, "parent")[0])[1]), what="a live row")
    assert group_posts(slack_server, "summary", thread_ts=parent[0]["ts"]) == []  # one is still working
    codegen_api.set_status(runs[2]["id"], "COMPLETE", result="Bumped.")

    summary = wait_for(
        lambda: group_posts(slack_server, "summary", thread_ts=parent[0]["ts"]), what="the summary"
    )
    assert "All 3 repositories are done: 2 complete, 1 failed" in summary[0]["text"]
    parent = group_posts(slack_server, "parent")
    assert len(parent) == 1  # edited in place
    assert table_rows(parent[0]) == [
        ["Repository", "Status", "PR"],
        ["acme/web", f"✅ COMPLETE · run #{runs[0]['id']}", "Bump lodash in Web"],
        ["acme/api", f"❌ FAILED · run #{runs[1]['id']}", "Bump lodash in Api"],
        ["acme/docs", f"✅ COMPLETE · run #{runs[2]['id']}", "Bump lodash in Docs"],
    ]
    assert "3 of 3 done" in parent[0]["text"] and "acme/docs" in parent[0]["text"]  # the mrkdwn fallback
    app.bot.runner.wake()
    assert len(group_posts(slack_server, "summary", thread_ts=parent[0]["ts"])) == 1


def test_a_pattern_runs_on_every_matching_repository(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    ids = {name: codegen_api.add_repo(name)["id"] for name in ("acme/web", "acme/api", "other/web")}
    app.command("add a CODEOWNERS file repo=acme/*")
    runs = wait_for(lambda: len(codegen_api.runs()) == 2 and codegen_api.runs(), what="two runs")
    assert [codegen_api.run_inputs(r["id"])["repo_id"] for r in runs] == [ids["acme/api"], ids["acme/web"]]
    parent = wait_for(lambda: group_posts(slack_server, "parent"), what="the parent")[0]
    assert [row[0] for row in table_rows(parent)] == ["Repository", "acme/api", "acme/web"]


def test_more_repositories_than_allowed_are_refused_with_the_count(
    make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app = make_app(codegen_slack_max_repos_per_prompt=2)
    for name in ("acme/web", "acme/api", "acme/docs"):
        codegen_api.add_repo(name)
    answer = app.command("repo=acme/web,acme/api,acme/docs bump lodash").json()
    assert "That is 3 repositories; one prompt may go to at most 2" in answer["text"]

    app.command("bump lodash repo=acme/*")  # counted once the pattern is expanded
    refusal = wait_for(lambda: slack_server.ephemerals(GENERAL, ALICE), what="the refusal")[0]
    assert "That is 3 repositories; one prompt may go to at most 2" in refusal["text"]
    assert codegen_api.runs() == [] and group_posts(slack_server, "parent") == []


def test_an_unknown_repository_or_a_pattern_matching_none_is_refused(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.add_repo("acme/web")
    app.command("bump lodash repo=acme/web,acme/wbe")
    refusal = wait_for(lambda: slack_server.ephemerals(GENERAL, ALICE), what="the refusal")[-1]
    assert "no repository called `acme/wbe`" in refusal["text"] and "acme/web" in refusal["text"]
    app.command("bump lodash repo=nobody/*")
    wait_for(lambda: len(slack_server.ephemerals(GENERAL, ALICE)) == 2, what="the second refusal")
    assert "No repository of the Codegen organization matches `nobody/*`" in json.dumps(
        slack_server.ephemerals(GENERAL, ALICE)[-1]["text"]
    )
    assert codegen_api.runs() == []


def test_expansion_keeps_the_order_asked_and_each_repository_once() -> None:
    repos = [
        Repository(id=i, name=n.split("/")[1], full_name=n, github_id=str(i), organization_id=7,
                   setup_status="COMPLETE")
        for i, n in enumerate(["acme/web", "acme/api", "Acme/Docs", "x/y"])
    ]  # fmt: skip
    assert expand_repositories(["x/y", "acme/*", "acme/web"], repos, 10) == [
        "x/y", "Acme/Docs", "acme/api", "acme/web",
    ]  # fmt: skip
    assert "at most 3" in str(expand_repositories(["*/*"], repos, 3))


def test_several_repositories_picked_in_the_form_make_one_run_each(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    ids = [codegen_api.add_repo(name)["id"] for name in ("acme/web", "acme/api")]
    modal = open_modal(app, slack_server)
    picked = [{"text": {"type": "plain_text", "text": n}, "value": n} for n in ("acme/web", "acme/api")]
    values = form("bump lodash")
    values["repo"] = {"repo_select": {"type": "multi_external_select", "selected_options": picked}}
    assert submit(app, modal, values).status_code == 200
    runs = wait_for(lambda: len(codegen_api.runs()) == 2 and codegen_api.runs(), what="two runs")
    assert [codegen_api.run_inputs(r["id"])["repo_id"] for r in runs] == ids
    wait_for(lambda: group_posts(slack_server, "parent"), what="the parent message")


def test_the_hourly_cap_counts_every_run_of_the_prompt(
    make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app = make_app(codegen_slack_runs_per_user_per_hour=2)
    for name in ("acme/web", "acme/api", "acme/docs"):
        codegen_api.add_repo(name)
    app.command("bump lodash repo=acme/*")
    refusal = wait_for(lambda: slack_server.ephemerals(GENERAL, ALICE), what="the refusal")[0]
    assert "That would be 3 runs" in refusal["text"] and "most allowed per person is 2" in refusal["text"]
    assert codegen_api.runs() == []


def test_files_do_not_go_to_several_repositories(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    for name in ("acme/web", "acme/api"):
        codegen_api.add_repo(name)
    screenshot = slack_server.add_file("screenshot.png", b"\x89PNG\r\n\x1a\n", "image/png")
    mention_with_files(app, slack_server, "fix this layout repo=acme/web,acme/api", [screenshot])
    refusal = wait_for(lambda: slack_server.ephemerals(GENERAL, ALICE), what="the refusal")[0]
    assert "Files and attached messages go to one repository's run only" in refusal["text"]
    assert codegen_api.runs() == [] and group_posts(slack_server, "parent") == []
