"""`/codegen` with no text opens the run modal; the "Send to Codegen" message shortcut opens it prefilled."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.views import View

from bot.images import compact_files
from bot.render.modals import THREAD_NOTE, repo_options, run_modal
from tests.harness import AppUnderTest, wait_for
from tests.interactions import click, message_shortcut, submit, suggestions
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB = "C0GENERAL", "U0ALICE", "U0BOB"


def form(prompt: str, repo: str | None = None, model: str = "") -> dict[str, Any]:
    """view.state.values as Slack sends them for the run modal."""
    selected = {"text": {"type": "plain_text", "text": repo}, "value": repo} if repo else None
    return {
        "prompt": {"prompt_input": {"type": "plain_text_input", "value": prompt}},
        "repo": {"repo_select": {"type": "external_select", "selected_option": selected}},
        "model": {"model_input": {"type": "plain_text_input", "value": model or None}},
    }


def open_modal(app: AppUnderTest, slack: SlackServer) -> dict[str, Any]:
    assert app.command("", trigger_id=slack.trigger_id()).status_code == 200
    return wait_for(lambda: slack.views.modals, what="the modal")[-1]


def test_empty_command_opens_a_valid_modal_with_the_channel_default(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.add_repo("acme/web")
    app.command("config repo acme/web")
    modal = open_modal(app, slack_server)
    View(**modal).validate_json()  # slack_sdk's view model: title, blocks, metadata within Slack's limits
    assert modal["callback_id"] == "codegen_run"
    repo_block = next(b for b in modal["blocks"] if b["block_id"] == "repo")
    assert repo_block["element"]["type"] == "multi_external_select"  # several: one run each
    assert [o["value"] for o in repo_block["element"]["initial_options"]] == ["acme/web"]


def test_repository_menu_is_fed_from_the_organizations_repositories(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    for name in ("acme/web", "acme/webhooks", "other/frontweb", "acme/api"):
        codegen_api.add_repo(name)
    open_modal(app, slack_server)  # opening the modal warms the menu's cache in the background
    wait_for(lambda: app.bot.repos.cached(), what="the repositories fetched")
    offered = [option["value"] for option in suggestions(app, "repo_select", "WEB")]
    assert offered == ["acme/web", "acme/webhooks", "other/frontweb"]
    assert len(suggestions(app, "repo_select", "")) == 4


def test_submitted_modal_starts_the_run(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    repo = codegen_api.add_repo("acme/web")
    modal = open_modal(app, slack_server)
    answer = submit(app, modal, form("add a dark mode toggle", "acme/web", "claude-sonnet"))
    assert answer.status_code == 200 and "errors" not in answer.text
    run = wait_for(codegen_api.runs, what="the run")[0]
    inputs = codegen_api.run_inputs(run["id"])
    assert (inputs["prompt"], inputs["repo_id"], inputs["model"]) == (
        "add a dark mode toggle",
        repo["id"],
        "claude-sonnet",
    )
    wait_for(lambda: str(run["id"]) in str(slack_server.messages(GENERAL)), what="the card in the channel")
    submit(
        app, modal, form("add a dark mode toggle", "acme/web", "claude-sonnet")
    )  # Slack retries a slow answer
    assert len(codegen_api.runs()) == 1


def test_modal_shows_errors_inline(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.add_repo("acme/web")
    modal = open_modal(app, slack_server)
    wait_for(lambda: app.bot.repos.cached(), what="the repositories fetched")
    answer = submit(app, modal, form("   ", "acme/wbe", "two words")).json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"prompt", "repo", "model"}
    assert "acme/web" in answer["errors"]["repo"]  # the close match
    assert codegen_api.runs() == []


def shortcut_modal(app: AppUnderTest, slack: SlackServer, ts: str) -> dict[str, Any]:
    """Use "Send to Codegen" on message `ts` of #general; returns the form it opened (checked valid)."""
    message = {key: value for key, value in slack.message(GENERAL, ts).items() if value is not None}
    assert message_shortcut(app, "send_to_codegen", message, trigger_id=slack.trigger_id()).status_code == 200
    modal = wait_for(lambda: slack.views.modals, what="the modal")[-1]
    View(**modal).validate_json()
    return modal


def form_note(modal: dict[str, Any]) -> str:
    return " ".join(e["text"] for b in modal["blocks"] if b["type"] == "context" for e in b["elements"])


def test_message_shortcut_attaches_the_message_and_runs_in_that_thread(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    root = slack_server.post_as_user(GENERAL, BOB, "checkout returns 500 for EU users &amp; nobody knows why")
    slack_server.post_as_user(GENERAL, ALICE, "started after the tax change", thread_ts=root)
    modal = shortcut_modal(app, slack_server, root)
    prompt_block = next(b for b in modal["blocks"] if b["block_id"] == "prompt")
    assert "initial_value" not in prompt_block["element"]  # the field is for the instruction
    assert "attached in full" in form_note(modal) and "(52 characters)" in form_note(modal)
    assert json.loads(modal["private_metadata"])["thread_ts"] == root

    submit(app, modal, form("please fix"))
    run = wait_for(codegen_api.runs, what="the run")[0]
    sent = codegen_api.run_inputs(run["id"])["prompt"]
    assert sent.startswith("please fix\n")
    assert "checkout returns 500 for EU users & nobody knows why" in sent
    assert "started after the tax change" in sent
    wait_for(
        lambda: str(run["id"]) in str(slack_server.messages(GENERAL, thread_ts=root)[1:]),
        what="the card in the message's thread",
    )
    assert len(slack_server.messages(GENERAL)) == 1  # nothing new at the top of the channel


def test_a_5005_character_message_reaches_the_agent_whole(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    frames = "".join(f"  File \"app/step_{n:03d}.py\", line {n}, in handler\n" for n in range(200))
    trace = ("Traceback (most recent call last):\n" + frames + "ValueError: the last line matters")[:5_005]
    trace = trace[: 5_005 - len("THE END")] + "THE END"
    assert len(trace) == 5_005
    ts = slack_server.post_as_user(GENERAL, BOB, trace)
    modal = shortcut_modal(app, slack_server, ts)
    assert "(5,005 characters) is attached in full" in form_note(modal)

    submit(app, modal, form(""))  # no instruction: the message is what to help with
    run = wait_for(codegen_api.runs, what="the run")[0]
    sent = codegen_api.run_inputs(run["id"])["prompt"]
    assert sent.startswith("Help with the attached message.\n")
    assert trace in sent and sent.count("THE END") == 1  # whole, and once (not again as context)


def test_a_retried_shortcut_run_gets_the_message_again(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    ts = slack_server.post_as_user(GENERAL, BOB, "KeyError: 'tenant' in billing/invoice.py")
    submit(app, shortcut_modal(app, slack_server, ts), form("fix this"))
    run_id = wait_for(codegen_api.runs, what="the run")[0]["id"]
    codegen_api.set_status(run_id, "FAILED", result="Tests failed.")

    def retry_card() -> dict[str, Any] | None:
        return next((m for m in slack_server.messages(GENERAL, thread_ts=ts) if "retry_run" in str(m)), None)

    click(app, wait_for(retry_card, what="the Retry button"), "retry_run")
    retried = wait_for(lambda: len(codegen_api.runs()) == 2 and codegen_api.runs()[-1], what="the retry")
    assert "KeyError: 'tenant' in billing/invoice.py" in codegen_api.run_inputs(retried["id"])["prompt"]


def test_a_message_over_the_prompt_limit_is_cut_and_both_sides_are_told(
    make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app = make_app(codegen_slack_max_prompt_chars=1_000)
    ts = slack_server.post_as_user(GENERAL, BOB, "y" * 1_500)
    modal = shortcut_modal(app, slack_server, ts)
    assert "1,500 characters, over the 1,000-character prompt limit" in form_note(modal)

    submit(app, modal, form("why"))
    run = wait_for(codegen_api.runs, what="the run")[0]
    sent = codegen_api.run_inputs(run["id"])["prompt"]
    assert "y" * 997 in sent and "y" * 998 not in sent  # 1,000 less the three of "why"
    assert "goes on for 503 more characters, left out" in sent
    told = wait_for(
        lambda: [m for m in slack_server.messages(GENERAL, thread_ts=ts) if "not sent" in m["text"]],
        what="the thread told what was left out",
    )
    assert [m["text"] for m in told] == [
        "To keep within the prompt limit, the agent was not sent the last 503 characters of the message."
    ]


def test_modal_and_menu_stay_within_slacks_limits_whatever_they_hold() -> None:
    metadata = json.dumps(
        {
            "channel": GENERAL,
            "files": compact_files(
                [
                    {
                        "name": "n" * 500,
                        "mimetype": "image/png",
                        "size": 1,
                        "url_private": "https://files.slack.com/" + "u" * 150,
                    }
                ]
                * 20
            ),
        }
    )
    modal = run_modal(
        metadata=metadata, repo="a/" + "r" * 300, model="m" * 300, note=THREAD_NOTE, attached=25_000
    )
    View(**modal).validate_json()
    prompt = next(b for b in modal["blocks"] if b["block_id"] == "prompt")["element"]
    assert prompt["max_length"] <= 3_000
    options = repo_options([f"org/{'x' * 200}{i}" for i in range(500)], "X")
    assert len(options) == 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in options)
