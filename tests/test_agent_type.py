"""Which agent a run uses (Codegen's `agent_type`): `agent=` inline, in the form, and as a channel's or
a person's default; end to end through the slash command and the modal to the Codegen test server."""

from __future__ import annotations

from tests.harness import AppUnderTest, wait_for
from tests.interactions import submit
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.test_modal_and_shortcut import form, open_modal

GENERAL = "C0GENERAL"


def agent_of_next_run(
    app: AppUnderTest, codegen: CodegenServer, text: str, channel: str = GENERAL
) -> str | None:
    """Start a run with `/codegen text` and return the agent_type Codegen received for it."""
    before = len(codegen.runs())
    app.command(text, channel=channel)
    run = wait_for(lambda: len(codegen.runs()) > before and codegen.runs()[-1], what="the run")
    return codegen.run_inputs(run["id"])["agent_type"]


def test_agent_inline_is_sent_as_agent_type(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    assert agent_of_next_run(app, codegen_api, "fix the build agent=claude_code") == "claude_code"
    assert codegen_api.run_inputs(codegen_api.runs()[-1]["id"])["prompt"] == "fix the build"
    assert agent_of_next_run(app, codegen_api, "fix the build") is None  # the organization's default
    answer = app.command("fix the build agent=gpt").json()
    assert "the agent is codegen or claude_code" in answer["text"] and len(codegen_api.runs()) == 2


def test_channel_default_then_personal_default_then_inline(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    assert "Claude Code" in app.command("config my agent claude_code").json()["text"]
    assert agent_of_next_run(app, codegen_api, "bump lodash") == "claude_code"  # mine

    assert "Runs started here" in app.command("config agent codegen").json()["text"]
    shown = app.command("config").json()["text"]
    assert "Agent: Codegen" in shown and "Your own agent (where the channel sets none): Claude Code" in shown
    assert agent_of_next_run(app, codegen_api, "bump lodash") == "codegen"  # the channel's wins
    assert agent_of_next_run(app, codegen_api, "lodash agent=claude_code") == "claude_code"  # inline wins

    app.command("config agent none")
    assert agent_of_next_run(app, codegen_api, "bump lodash") == "claude_code"
    app.command("config my agent none")
    assert agent_of_next_run(app, codegen_api, "bump lodash") is None


def test_only_admins_set_the_channels_agent(make_app, codegen_api: CodegenServer) -> None:
    app = make_app(codegen_slack_admin_users="U0ADMIN")
    assert "Only the bot's admins" in app.command("config agent claude_code").json()["text"]
    assert agent_of_next_run(app, codegen_api, "bump lodash") is None
    app.command("config my agent claude_code")  # one's own needs no admin
    assert agent_of_next_run(app, codegen_api, "bump lodash") == "claude_code"


def test_the_form_offers_the_agent_prefilled_with_the_default(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app.command("config agent claude_code")
    modal = open_modal(app, slack_server)
    agent = next(b for b in modal["blocks"] if b["block_id"] == "agent")["element"]
    assert [o["value"] for o in agent["options"]] == ["codegen", "claude_code"]
    assert agent["initial_option"]["value"] == "claude_code"

    values = form("add a dark mode toggle")
    chosen = {"text": {"type": "plain_text", "text": "Codegen"}, "value": "codegen"}
    values["agent"] = {"agent_select": {"type": "static_select", "selected_option": chosen}}
    assert submit(app, modal, values).status_code == 200
    run = wait_for(codegen_api.runs, what="the run")[-1]
    assert codegen_api.run_inputs(run["id"])["agent_type"] == "codegen"
