"""Every answer Codegen's spec allows reaches Slack: nulls, unknown statuses, empty and huge strings, and
pull requests with missing fields. Parsing, storing and rendering never raise, and what would be sent
stays within Slack's limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.render.messages import SlackMessage
from storage.store import Store
from tests.answer_paths import ALICE, GENERAL, recorded, rendered
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.slack_checks import all_strings

RANDOM = "C0RANDOM"

NULL_PR = {"id": 77, "title": None, "url": None, "created_at": "2026-11-30T12:00:00Z",
           "head_branch_name": None}


def answer(**fields: Any) -> dict[str, Any]:
    """An AgentRunResponse body of a completed run, with `fields` set (the id is filled in later)."""
    return {"organization_id": 7, "status": "COMPLETE", **fields}


@pytest.fixture
def store(db_target: str) -> Iterator[Store]:
    store = Store(db_target)
    yield store
    store.close()


def button_ids(*messages: SlackMessage) -> set[str]:
    return {
        button["action_id"]
        for message in messages
        for block in message.blocks
        if block["type"] == "actions"
        for button in block["elements"]
    }


def test_a_pull_request_with_null_fields_is_shown_by_its_place_without_a_link(store: Store) -> None:
    run = recorded(store, answer(github_pull_requests=[NULL_PR]))
    assert run.finished
    shown = rendered(run)
    results = " ".join(all_strings([m.blocks for m in shown["results"]]))
    assert "• Pull request 1" in results
    everything = (*shown["results"], shown["card"], shown["dm"])
    assert not any(i.startswith("open_pr_") for i in button_ids(*everything))
    card = str(shown["card"].blocks)
    assert "Pull request 1" in card and "more pull request" not in card
    assert "• Pull request 1" in shown["status"]
    assert "• Pull request 1" in str(shown["home"]["blocks"])
    for text in (results, str(shown["card"].blocks), shown["status"], str(shown["home"]["blocks"])):
        assert "None" not in text and "<None" not in text


def test_a_pull_request_without_a_title_gets_a_button_named_by_its_place(store: Store) -> None:
    prs = [
        {"id": 1, "title": "Fix login", "url": "https://github.com/acme/web/pull/1", "created_at": "x"},
        {"id": 2, "title": None, "url": "https://github.com/acme/web/pull/2", "created_at": "x"},
        {"id": 3, "title": " \n ", "url": None, "created_at": "x"},
    ]
    run = recorded(store, answer(github_pull_requests=prs))
    shown = rendered(run)
    buttons = {
        button["action_id"]: button
        for block in shown["results"][0].blocks
        if block["type"] == "actions"
        for button in block["elements"]
    }
    assert buttons["open_pr_1"]["text"]["text"] == "Pull request 2"
    assert buttons["open_pr_1"]["url"] == "https://github.com/acme/web/pull/2"
    assert "open_pr_2" not in buttons and "• Pull request 3" in str(shown["results"][0].blocks)


@pytest.mark.parametrize("prs", [None, []], ids=["null", "empty"])
def test_no_pull_requests_null_or_empty(store: Store, prs: list | None) -> None:
    run = recorded(store, answer(result="Done.", github_pull_requests=prs))
    shown = rendered(run)
    assert run.pull_requests == ()
    assert not any(i.startswith("open_pr_") for i in button_ids(*shown["results"], shown["card"]))
    assert "Pull request" not in shown["status"]


def test_every_run_field_null_keeps_what_the_bot_knew(store: Store) -> None:
    nulls = dict.fromkeys(("status", "created_at", "web_url", "result", "summary", "source_type",
                           "github_pull_requests", "metadata"))
    run = recorded(store, {"organization_id": 7, **nulls})
    assert (run.status, run.web_url, run.finished) == ("ACTIVE", "https://codegen.com/agent/trace/1", False)
    assert "ACTIVE" in rendered(run)["card"].text


@pytest.mark.parametrize("status", ["PAUSED", "evaluating", "🤖", "x" * 100_000, "  "])
def test_an_unknown_status_is_shown_and_the_run_counts_as_working(store: Store, status: str) -> None:
    run = recorded(store, answer(status=status))
    assert not run.finished
    shown = rendered(run)
    assert shown["card"].text.startswith("🔄")
    assert len(shown["card"].metadata["event_payload"]["status"]) <= 40


@pytest.mark.parametrize("size", [0, 100_000])
def test_empty_and_huge_strings_in_every_field(store: Store, size: int) -> None:
    text = ("<&>*_`~ " * size)[:size]
    pr = {"id": 1, "title": text, "url": text, "created_at": text, "head_branch_name": text}
    fields = {"created_at": text, "web_url": text, "result": text, "summary": text}
    shown = rendered(recorded(store, answer(**fields, github_pull_requests=[pr] * 3)))
    first = str(shown["results"][0].blocks)
    if size:  # each title shortened to a line, so all three pull requests lead the result
        assert first.count("• &lt;&amp;&gt;*_`~") == 3
    else:
        assert all(f"• Pull request {n}" in first for n in (1, 2, 3))


def test_huge_links_are_not_made_into_buttons(store: Store) -> None:
    url = "https://github.com/acme/web/pull/" + "9" * 100_000
    pr = {"id": 1, "title": "Big", "url": url, "created_at": "x"}
    run = recorded(store, answer(status="FAILED", web_url=url, github_pull_requests=[pr]))
    shown = rendered(run)
    assert not {"open_run", "open_pr_0"} & button_ids(*shown["results"], shown["card"], shown["dm"])
    assert "Big" in str(shown["results"][0].blocks)


def test_a_null_field_pull_request_holds_up_no_announcement(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    slack_server.add_channel(RANDOM, name="random", members=[ALICE])
    app.command("fix the login bug", channel=GENERAL)
    wait_for(lambda: len(codegen_api.runs()) == 1, what="the first run")
    app.command("write the changelog", channel=RANDOM)
    first, second = (run["id"] for run in wait_for(lambda: codegen_api.runs()[1:] and codegen_api.runs()))

    def card(channel: str, run_id: int) -> dict[str, Any]:
        def cards() -> list[dict[str, Any]]:
            return [m for m in slack_server.messages(channel) if str(run_id) in m["text"]]

        return wait_for(cards, what=f"the card in {channel}")[0]

    cards = {GENERAL: card(GENERAL, first), RANDOM: card(RANDOM, second)}
    codegen_api.set_run_fields(first, status="COMPLETE", result="Fixed.", github_pull_requests=[NULL_PR])
    codegen_api.set_status(second, "COMPLETE", result="Changelog written.")

    def result(channel: str) -> list[dict[str, Any]]:
        replies = slack_server.messages(channel, thread_ts=cards[channel]["ts"])[1:]
        return [m for m in replies if (m["metadata"] or {}).get("event_type") == "codegen_run_result"]

    fixed = wait_for(lambda: result(GENERAL), what="the result of the run with the null-field PR")
    changelog = wait_for(lambda: result(RANDOM), what="the result of the run in the other channel")
    assert "Changelog written." in str(changelog[0]["blocks"])
    assert "• Pull request 1" in str(fixed[0]["blocks"]) and "Fixed." in str(fixed[0]["blocks"])
    assert "open_pr_" not in str(fixed[0]["blocks"])
