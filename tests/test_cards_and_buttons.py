"""The run's status card end to end: what it shows, and its buttons (links, Retry, Follow up, Show steps)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.render.limits import blocks_text_length
from bot.render.status_card import status_message
from storage.records import PullRequest, RunRecord
from tests.harness import AppUnderTest, wait_for
from tests.interactions import click, submit
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB = "C0GENERAL", "U0ALICE", "U0BOB"


def action_ids(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def start_run(app: AppUnderTest, codegen: CodegenServer, slack: SlackServer, text: str) -> tuple[int, dict]:
    """Start a run with /codegen; returns its id and its card once the card shows the run."""
    app.command(text)
    run_id = wait_for(codegen.runs, what="the run")[-1]["id"]
    card = wait_for(lambda: _card(slack, run_id), what="the run's card")
    return run_id, card


def _card(slack: SlackServer, run_id: int, thread_ts: str | None = None) -> dict | None:
    messages = slack.messages(GENERAL, thread_ts=thread_ts) if thread_ts else slack.messages(GENERAL)
    return next(
        (
            m
            for m in messages
            if (m.get("metadata") or {}).get("event_payload", {}).get("run_id") == run_id
            and m["metadata"]["event_type"] == "codegen_run_status"
        ),
        None,
    )


def card_when(slack: SlackServer, run_id: int, check, what: str) -> dict:
    return wait_for(lambda: (c := _card(slack, run_id)) and check(c) and c, what=what)


def test_card_shows_who_what_where_how_long_and_its_buttons(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.add_repo("acme/web")
    run_id, card = start_run(app, codegen_api, slack_server, "fix the flaky login test repo=acme/web")
    for block in card["blocks"]:
        assert Block.parse(block).to_dict() == block  # valid for slack_sdk's Block Kit models
    text = str(card["blocks"])
    assert f"🔄 *Codegen run #{run_id}* · ACTIVE" in text and "fix the flaky login test" in text
    assert "<@U0ALICE>" in text and "acme/web" in text
    assert action_ids(card) == ["open_run", "show_steps", "follow_up", "stop_run", "mute_follow_ups"]

    codegen_api.add_pull_request(run_id, title="Fix login", url="https://github.com/acme/web/pull/7")
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    done = card_when(slack_server, run_id, lambda c: "✅" in c["text"], "the card to show ✅")
    pr_actions = ["pr_ready", "pr_draft", "pr_close", "pr_remove", "pr_ban"]  # see test_pr_actions.py
    # no Retry (it worked), no Stop (it finished)
    controls = ["show_steps", "follow_up", "mute_follow_ups"]
    assert action_ids(done) == ["open_run", "open_pr_0", *pr_actions, *controls]
    assert "retry_run" not in str(done["blocks"])


def test_link_buttons_are_acknowledged(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, card = start_run(app, codegen_api, slack_server, "write docs")
    codegen_api.add_pull_request(run_id, title="Docs", url="https://github.com/acme/web/pull/8")
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    card = card_when(slack_server, run_id, lambda c: "open_pr_0" in action_ids(c), "the PR button")
    assert click(app, card, "open_run").status_code == 200
    assert click(app, card, "open_pr_0").status_code == 200
    time.sleep(0.2)
    assert slack_server.ephemerals() == [] and len(codegen_api.runs()) == 1


def test_retry_starts_the_same_run_again_in_the_same_thread_once(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    repo = codegen_api.add_repo("acme/web")
    run_id, _ = start_run(
        app, codegen_api, slack_server, "migrate to postgres repo=acme/web model=claude-sonnet"
    )
    codegen_api.set_status(run_id, "FAILED", result="Tests failed.")
    card = card_when(slack_server, run_id, lambda c: "retry_run" in action_ids(c), "the Retry button")

    click(app, card, "retry_run", user=BOB)
    retried = wait_for(
        lambda: len(codegen_api.runs()) == 2 and codegen_api.runs()[-1], what="the retried run"
    )
    inputs = codegen_api.run_inputs(retried["id"])
    assert (inputs["prompt"], inputs["repo_id"], inputs["model"]) == (
        "migrate to postgres",
        repo["id"],
        "claude-sonnet",
    )
    new_card = wait_for(
        lambda: _card(slack_server, retried["id"], thread_ts=card["ts"]),
        what="the new run's card in the same thread",
    )
    assert "<@U0BOB>" in str(new_card["blocks"])
    assert (
        app.bot.store.run_for_thread(GENERAL, card["ts"]).run_id == retried["id"]
    )  # replies go to the retry

    click(app, card, "retry_run", user=BOB)
    wait_for(
        lambda: any("retried already" in str(e["text"]) for e in slack_server.ephemerals(GENERAL, BOB)),
        what="the already-retried notice",
    )
    assert len(codegen_api.runs()) == 2


def test_only_failed_runs_can_be_retried(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, card = start_run(app, codegen_api, slack_server, "bump lodash")
    card["blocks"].append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "retry_run",
                    "value": str(run_id),
                    "text": {"type": "plain_text", "text": "Retry"},
                }
            ],
        }
    )
    click(app, card, "retry_run")  # a stale card, or a crafted click, on a run that is still working
    wait_for(lambda: slack_server.ephemerals(GENERAL, ALICE), what="the refusal")
    assert "Only a failed run" in slack_server.ephemerals(GENERAL, ALICE)[0]["text"]
    assert len(codegen_api.runs()) == 1


def test_follow_up_modal_sends_its_text_as_a_resume(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, _ = start_run(app, codegen_api, slack_server, "add dark mode")
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    card = card_when(slack_server, run_id, lambda c: "✅" in c["text"], "the finished card")

    click(app, card, "follow_up", trigger_id=slack_server.trigger_id())
    modal = wait_for(lambda: slack_server.views.modals, what="the follow-up modal")[-1]
    View(**modal).validate_json()
    assert modal["callback_id"] == "codegen_follow_up" and "add dark mode" in str(modal["blocks"])

    blank = submit(app, modal, {"prompt": {"prompt_input": {"type": "plain_text_input", "value": "  "}}})
    assert blank.json()["response_action"] == "errors" and "prompt" in blank.json()["errors"]
    answer = submit(
        app,
        modal,
        {"prompt": {"prompt_input": {"type": "plain_text_input", "value": "also cover the settings page"}}},
    )
    assert answer.status_code == 200 and not answer.content.strip(b"{} ")
    wait_for(lambda: codegen_api.run_inputs(run_id)["resumes"], what="the resume")
    assert codegen_api.run_inputs(run_id)["resumes"][0]["prompt"] == "also cover the settings page"
    wait_for(
        lambda: any(
            "also cover the settings page" in m["text"]
            for m in slack_server.messages(GENERAL, thread_ts=card["ts"])
        ),
        what="the follow-up shown in the thread",
    )


def test_follow_up_is_only_for_the_requester_under_that_policy(
    make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app = make_app(codegen_slack_resume_policy="requester")
    _, card = start_run(app, codegen_api, slack_server, "add dark mode")
    click(app, card, "follow_up", user=BOB, trigger_id=slack_server.trigger_id())
    refusal = wait_for(lambda: slack_server.ephemerals(GENERAL, BOB), what="the refusal")[0]
    assert "Only the person who started" in refusal["text"]
    assert slack_server.views.modals == []


def test_show_steps_posts_the_last_ten_steps_in_the_thread(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, card = start_run(app, codegen_api, slack_server, "find the slow query")
    for number in range(1, 13):
        query = {"query": f"pattern{number}"}
        codegen_api.add_log(run_id, tool_name="ripgrep_search", tool_input=query, thought=f"Look {number}")
    click(app, card, "show_steps")
    steps = wait_for(
        lambda: [
            m for m in slack_server.messages(GENERAL, thread_ts=card["ts"]) if "steps of run" in m["text"]
        ],
        what="the steps in the thread",
    )
    text = steps[0]["text"]
    assert "Last 10 of 12 steps" in text
    assert "Searching code (ripgrep_search): 'pattern12' — Look 12" in text  # the tool and the thought
    assert "'pattern3' — Look 3" in text and "'pattern2'" not in text
    assert text.index("pattern3") < text.index("pattern12")  # oldest first, like a log


def test_card_stays_within_slacks_limits_whatever_it_holds() -> None:
    prs = tuple(PullRequest(f"PR {i} " + "t" * 100, f"https://github.com/a/b/pull/{i}") for i in range(200))
    run = RunRecord(
        run_id=7,
        channel=GENERAL,
        thread_ts="1.1",
        requester=ALICE,
        prompt="p <&> " * 5_000,
        status="FAILED",
        repo="a/" + "r" * 300,
        model="m" * 300,
        web_url="https://codegen.com/x",
        pull_requests=prs,
        latest_step="`x` <y> " * 1_000,
        step_count=10**6,
        created_at=1.0,
    )
    for message in (
        status_message(run, now=100.0),
        status_message(replace(run, status="RUNNING"), now=100.0),
    ):
        assert len(message.blocks) <= 50 and blocks_text_length(message.blocks) <= 12_000
        for block in message.blocks:
            assert Block.parse(block).to_dict() == block
            for element in block.get("elements", []):
                assert len(element["text"]) <= (75 if element["type"] == "button" else 3_000)
    assert "retry_run" in str(status_message(run, now=100.0).blocks)
    running = str(status_message(replace(run, status="RUNNING"), now=100.0).blocks)
    assert "retry_run" not in running and "step 1000000" in running and "&lt;y&gt;" in running


def test_the_finish_reaction_goes_when_a_follow_up_sets_the_run_working_again(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, card = start_run(app, codegen_api, slack_server, "tidy the README")
    root = card.get("thread_ts") or card["ts"]
    reactions = lambda: slack_server.message(GENERAL, root).get("reactions", {})  # noqa: E731
    codegen_api.set_status(run_id, "COMPLETE", result="Tidied.")
    wait_for(lambda: "white_check_mark" in reactions(), what="✅ on the finished run's thread")
    reply_ts = slack_server.post_as_user(GENERAL, ALICE, "also fix the links", thread_ts=root)
    app.event({"type": "message", "channel": GENERAL, "channel_type": "channel", "user": ALICE,
               "text": "also fix the links", "ts": reply_ts, "thread_ts": root})  # fmt: skip
    wait_for(lambda: "white_check_mark" not in reactions(), what="✅ taken off: the run works again")
    codegen_api.set_status(run_id, "FAILED", result="The links checker crashed.")
    wait_for(lambda: "x" in reactions(), what="❌ on the failed run's thread")
    assert "white_check_mark" not in reactions()  # the thread says how it ended last, once
