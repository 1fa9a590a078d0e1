"""A finished run's pull requests, acted on from Slack end to end: the card's PR buttons and `/codegen pr`
(signed Slack requests → app → Codegen and Slack test servers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from tests.harness import AppUnderTest, wait_for
from tests.interactions import click
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.test_cards_and_buttons import _card, action_ids

GENERAL, ALICE, BOB = "C0GENERAL", "U0ALICE", "U0BOB"
PR_URL = "https://github.com/acme/web/pull/7"


def finished_run_with_pr(
    app: AppUnderTest, codegen: CodegenServer, slack: SlackServer, *, user: str = ALICE
) -> tuple[int, int, dict[str, Any]]:
    """A run started by `user` that finished with one PR; its id, the PR's id and the finished card."""
    codegen.add_repo("acme/web")
    app.command("fix the login bug repo=acme/web", user=user)
    run_id = wait_for(codegen.runs, what="the run")[-1]["id"]
    pr = codegen.add_pull_request(run_id, title="Fix login", url=PR_URL)
    codegen.set_status(run_id, "COMPLETE", result="Done.")
    card = wait_for(
        lambda: (c := _card(slack, run_id)) and "pr_close" in action_ids(c) and c, what="the PR buttons"
    )
    return run_id, pr["id"], card


def thread_says(slack: SlackServer, card: dict[str, Any], text: str) -> dict[str, Any]:
    """The bot's message in the run's thread that contains `text` (waited for)."""
    return wait_for(
        lambda: next((m for m in slack.messages(GENERAL, thread_ts=card["ts"]) if text in m["text"]), None),
        what=f"{text!r} in the thread",
    )


def card_with(slack: SlackServer, run_id: int, text: str) -> dict[str, Any]:
    return wait_for(lambda: (c := _card(slack, run_id)) and text in json.dumps(c["blocks"]) and c, what=text)


def test_the_requester_moves_a_pr_through_its_states_and_the_card_shows_each(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, pr_id, card = finished_run_with_pr(app, codegen_api, slack_server)
    for block in card["blocks"]:
        assert Block.parse(block).to_dict() == block
    close = next(e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "pr_close")  # fmt: skip
    assert close["confirm"]["title"]["text"] == "Close this pull request?"  # Slack asks before it closes

    click(app, card, "pr_ready")
    thread_says(slack_server, card, "marked <https://github.com/acme/web/pull/7|Fix login> ready for review")
    assert codegen_api.pull_request(pr_id)["state"] == "ready_for_review"
    card = card_with(slack_server, run_id, "Ready for review (by <@U0ALICE>)")
    assert "pr_ready" not in action_ids(card)

    click(app, card, "pr_draft")
    thread_says(slack_server, card, "turned <https://github.com/acme/web/pull/7|Fix login> back into a draft")
    assert codegen_api.pull_request(pr_id)["state"] == "draft"
    card = card_with(slack_server, run_id, "Draft (by <@U0ALICE>)")

    click(app, card, "pr_close")
    thread_says(slack_server, card, "<@U0ALICE> closed")
    assert codegen_api.pull_request(pr_id)["state"] == "closed"
    card = card_with(slack_server, run_id, "Closed (by <@U0ALICE>)")
    assert "pr_reopen" in action_ids(card) and "pr_close" not in action_ids(card)

    click(app, card, "pr_reopen")
    thread_says(slack_server, card, "<@U0ALICE> reopened")
    assert codegen_api.pull_request(pr_id)["state"] == "open"
    assert codegen_api.count(path="edit_pr", status=200) == 4


def test_stop_codegen_and_stop_or_resume_fixing_checks(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, pr_id, card = finished_run_with_pr(app, codegen_api, slack_server)

    click(app, card, "pr_ban")
    thread_says(slack_server, card, "stopped Codegen fixing the checks of")
    assert codegen_api.pull_request(pr_id)["checks_banned"] is True
    card = card_with(slack_server, run_id, "Codegen doesn't fix its checks")
    assert "pr_unban" in action_ids(card) and "pr_ban" not in action_ids(card)

    click(app, card, "pr_unban")
    thread_says(slack_server, card, "let Codegen fix the checks of")
    assert codegen_api.pull_request(pr_id)["checks_banned"] is False

    card = card_with(slack_server, run_id, "pr_ban")
    click(app, card, "pr_remove")
    thread_says(slack_server, card, "stopped Codegen on")
    assert codegen_api.pull_request(pr_id)["removed"] is True
    card = card_with(slack_server, run_id, "Codegen stopped on it")
    assert "pr_remove" not in action_ids(card)


@pytest.mark.parametrize(
    "action", ["pr_ready", "pr_draft", "pr_close", "pr_remove", "pr_ban", "pr_reopen", "pr_unban"]
)
def test_someone_else_is_refused_privately_and_nothing_changes(
    make_app, codegen_api: CodegenServer, slack_server: SlackServer, action: str
) -> None:
    app = make_app(codegen_slack_admin_users="U0ADMIN")
    run_id, pr_id, card = finished_run_with_pr(app, codegen_api, slack_server)
    button = {"type": "button", "action_id": action, "value": f"{run_id}:{pr_id}",
              "text": {"type": "plain_text", "text": action}}  # fmt: skip
    card["blocks"].append({"type": "actions", "elements": [button]})  # every action, shown or not
    click(app, card, action, user=BOB)
    refusal = wait_for(lambda: slack_server.ephemerals(GENERAL, BOB), what="the refusal")[0]
    assert f"Only <@{ALICE}>, who started run #{run_id}, or an admin" in refusal["text"]
    assert not [kind for kind, _ in app.bot.store.count_jobs() if kind == "pr_action"]  # none recorded
    assert codegen_api.count(path="prs") == 0 and codegen_api.count(path="ban") == 0
    assert codegen_api.count(path="remove-from-pr") == 0
    assert codegen_api.pull_request(pr_id)["state"] == "open"
    assert not [m for m in slack_server.messages(GENERAL, thread_ts=card["ts"]) if "<@U0BOB>" in m["text"]]


def test_an_admin_may_act_on_someone_elses_pr(
    make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app = make_app(codegen_slack_admin_users=ALICE)
    _, pr_id, card = finished_run_with_pr(app, codegen_api, slack_server, user=BOB)
    click(app, card, "pr_close", user=ALICE)
    thread_says(slack_server, card, "<@U0ALICE> closed")
    assert codegen_api.pull_request(pr_id)["state"] == "closed"


def test_codegens_refusals_are_explained_in_the_thread(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, pr_id, card = finished_run_with_pr(app, codegen_api, slack_server)

    codegen_api.set_pull_request(pr_id, writable=False)
    click(app, card, "pr_draft")
    said = thread_says(slack_server, card, "couldn't turn")
    assert "(403)" in said["text"] and "no write access to acme/web" in said["text"]
    codegen_api.set_pull_request(pr_id, writable=True)

    codegen_api.fail_next(1, 404, path="edit_pr")
    click(app, card, "pr_ready")
    assert "(404)" in thread_says(slack_server, card, "doesn't know this pull request")["text"]

    codegen_api.fail_next(1, 422, path="ban")
    click(app, card, "pr_ban")
    assert "Injected failure" in thread_says(slack_server, card, "refused it as invalid (422)")["text"]

    codegen_api.set_pull_request(pr_id, state="merged")
    click(app, card, "pr_close")
    assert "is merged" in thread_says(slack_server, card, "GitHub didn't allow it")["text"]
    assert codegen_api.pull_request(pr_id)["state"] == "merged"
    assert "Closed" not in json.dumps(_card(slack_server, run_id)["blocks"])  # nothing changed: not shown


def test_a_codegen_outage_is_retried_until_the_action_goes_through(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    _, pr_id, card = finished_run_with_pr(app, codegen_api, slack_server)
    codegen_api.fail_next(2, 503, path="edit_pr")
    click(app, card, "pr_close")
    said = thread_says(slack_server, card, "<@U0ALICE> closed")
    assert codegen_api.pull_request(pr_id)["state"] == "closed"
    assert codegen_api.count(path="edit_pr") == 3
    outcomes = [m for m in slack_server.messages(GENERAL, thread_ts=card["ts"]) if m["text"] == said["text"]]
    assert outcomes == [said]  # said once


def test_codegen_pr_lists_a_runs_prs_with_their_buttons(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, pr_id, card = finished_run_with_pr(app, codegen_api, slack_server)
    answer = app.command(f"pr {run_id}").json()
    assert answer["response_type"] == "ephemeral" and f"Pull requests of run #{run_id}" in answer["text"]
    ids = [e["action_id"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids == ["pr_ready", "pr_draft", "pr_close", "pr_remove", "pr_ban"]
    assert app.command("pr").json()["blocks"] == answer["blocks"]  # no id: the latest run here

    ephemeral = {"ts": "1.000001", "blocks": answer["blocks"], "text": answer["text"]}  # clicked where shown
    click(app, ephemeral, "pr_ready")
    thread_says(slack_server, card, "marked")  # the outcome goes to the run's thread
    assert codegen_api.pull_request(pr_id)["state"] == "ready_for_review"

    assert "don't know that run" in app.command("pr 999").json()["text"]
    app.command("write the docs")
    bare = wait_for(lambda: len(codegen_api.runs()) == 2 and codegen_api.runs()[-1], what="a run without PRs")
    wait_for(lambda: app.bot.store.get_run(bare["id"]), what="the run stored")
    assert f"Run #{bare['id']} has no pull requests (yet)." in app.command(f"pr {bare['id']}").json()["text"]
    assert "Run ids are numbers" in app.command("pr abc").json()["text"]


def test_pr_in_a_runs_thread_needs_no_id_and_is_not_a_follow_up(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, _, card = finished_run_with_pr(app, codegen_api, slack_server)
    app.event({"type": "app_mention", "channel": GENERAL, "user": ALICE, "text": "<@UBOT> pr",
               "ts": "9.000001", "thread_ts": card["ts"]})  # fmt: skip
    shown = wait_for(lambda: slack_server.ephemerals(GENERAL, ALICE), what="the PR list")[0]
    assert shown["thread_ts"] == card["ts"] and f"run #{run_id}" in shown["text"]
    assert "pr_close" in json.dumps(shown["blocks"])
    assert codegen_api.run_inputs(run_id)["resumes"] == []
