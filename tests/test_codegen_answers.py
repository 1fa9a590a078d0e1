"""Every answer Codegen's spec allows reaches Slack: nulls, unknown statuses, empty and huge strings, and
pull requests with missing fields. Parsing, storing and rendering never raise, and what would be sent
stays within Slack's limits."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.codegen import AgentRun
from bot.render.home import home_view
from bot.render.messages import (
    SlackMessage,
    finished_dm,
    result_messages,
    run_list_text,
    run_status_text,
    status_message,
    unreachable_channel_message,
)
from bot.render.modals import follow_up_modal
from bot.watcher import pull_requests
from storage.records import RunRecord, StatusCheck, UserPrefs
from storage.store import Store
from tests.slack_checks import all_strings, assert_slack_accepts, assert_text_fits, assert_view_accepts

GENERAL, ALICE = "C0GENERAL", "U0ALICE"
T0 = 1_800_000_000.0
NULL_PR = {"id": 77, "title": None, "url": None, "created_at": "2026-11-30T12:00:00Z",
           "head_branch_name": None}
_ids = itertools.count(1)


def answer(**fields: Any) -> dict[str, Any]:
    """An AgentRunResponse body of a completed run, with `fields` set (the id is filled in later)."""
    return {"organization_id": 7, "status": "COMPLETE", **fields}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(str(tmp_path / "bot.db"))
    yield store
    store.close()


def recorded(store: Store, answer: dict[str, Any]) -> RunRecord:
    """The run as the bot knows it after the watcher saw `answer` (an AgentRunResponse body) for a run
    it was watching: parsed, turned into a status check, written and read back from storage."""
    run = AgentRun.model_validate({**answer, "id": next(_ids)})
    store.add_run(
        RunRecord(
            run_id=run.id, channel=GENERAL, thread_ts="1.1", requester=ALICE, prompt="fix the login bug",
            status_ts="1.2", web_url="https://codegen.com/agent/trace/1", created_at=T0, changed_at=T0,
        )
    )
    check = StatusCheck(
        run_id=run.id, next_check_at=T0 + 70, status=run.status, result=run.result, summary=run.summary,
        web_url=run.web_url, pull_requests=pull_requests(run),
    )
    store.record_checks([check], T0 + 60)
    stored = store.get_run(run.id)
    assert stored is not None
    return stored


def rendered(run: RunRecord) -> dict[str, Any]:
    """Everything the bot shows of `run` (card, results, finish DM, channel-gone DM, `/codegen status`
    and `list`, App Home, follow-up modal), each checked against Slack's limits."""
    now = T0 + 120
    shown: dict[str, Any] = {
        "card": status_message(run, now),
        "results": result_messages(run),
        "dm": finished_dm(run),
        "gone": unreachable_channel_message(run, "channel_not_found"),
        "status": run_status_text(run, now),
        "list": run_list_text([run], now),
        "home": home_view([run], UserPrefs(ALICE), now),
        "follow_up": follow_up_modal(run),
    }
    for message in (shown["card"], *shown["results"], shown["dm"]):
        assert_slack_accepts(message)
    for text in (shown["gone"].text, shown["status"], shown["list"]):
        assert_text_fits(text)
    assert_view_accepts(shown["home"])
    assert_view_accepts(shown["follow_up"])
    return shown


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
