"""`/codegen` with no text opens the run modal; the "Send to Codegen" message shortcut opens it prefilled."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.views import View

from bot.images import compact_files
from bot.render.modals import THREAD_NOTE, repo_options, run_modal
from tests.harness import AppUnderTest, wait_for
from tests.interactions import message_shortcut, submit, suggestions
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
    assert repo_block["element"]["type"] == "external_select"
    assert repo_block["element"]["initial_option"]["value"] == "acme/web"


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


def test_message_shortcut_prefills_the_modal_and_runs_in_that_thread(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    root = slack_server.post_as_user(GENERAL, BOB, "checkout returns 500 for EU users &amp; nobody knows why")
    slack_server.post_as_user(GENERAL, ALICE, "started after the tax change", thread_ts=root)
    message = slack_server.message(GENERAL, root)
    trigger = slack_server.trigger_id()
    assert message_shortcut(app, "send_to_codegen", message, trigger_id=trigger).status_code == 200
    modal = wait_for(lambda: slack_server.views.modals, what="the modal")[-1]
    View(**modal).validate_json()
    prompt = next(b for b in modal["blocks"] if b["block_id"] == "prompt")["element"]["initial_value"]
    assert prompt == "checkout returns 500 for EU users & nobody knows why"
    assert json.loads(modal["private_metadata"])["thread_ts"] == root

    submit(app, modal, form(prompt + " — please fix"))
    run = wait_for(codegen_api.runs, what="the run")[0]
    sent = codegen_api.run_inputs(run["id"])["prompt"]
    assert sent.startswith(prompt + " — please fix") and "started after the tax change" in sent
    wait_for(
        lambda: str(run["id"]) in str(slack_server.messages(GENERAL, thread_ts=root)[1:]),
        what="the card in the message's thread",
    )
    assert len(slack_server.messages(GENERAL)) == 1  # nothing new at the top of the channel


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
        metadata=metadata, prompt="p" * 40_000, repo="a/" + "r" * 300, model="m" * 300, note=THREAD_NOTE
    )
    View(**modal).validate_json()
    prompt = next(b for b in modal["blocks"] if b["block_id"] == "prompt")["element"]
    assert len(prompt["initial_value"]) <= prompt["max_length"] <= 3_000
    options = repo_options([f"org/{'x' * 200}{i}" for i in range(500)], "X")
    assert len(options) == 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in options)
