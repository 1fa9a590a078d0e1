"""`/codegen setup <repo> [hint]` end to end: Codegen's "Generate Setup Commands" is called within its
limit of 5 a minute, and the agent run it starts is followed like any run."""

from __future__ import annotations

import json

from storage.records import JobStatus
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.test_cards_and_buttons import _card

GENERAL = "C0GENERAL"


def test_setup_starts_codegens_setup_agent_and_follows_its_run(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    repo = codegen_api.add_repo("acme/web")
    app.bot.repos.all()  # the repository list is cached, as after any earlier use
    assert app.command("setup acme/web it uses poetry, not pip").status_code == 200
    run = wait_for(codegen_api.runs, what="the setup run")[-1]
    assert run["source_type"] == "SETUP_COMMANDS"
    inputs = codegen_api.run_inputs(run["id"])
    assert (inputs["repo_id"], inputs["prompt"]) == (repo["id"], "it uses poetry, not pip")
    card = wait_for(lambda: _card(slack_server, run["id"]), what="the setup run's card")
    assert "Generate setup commands for acme/web: it uses poetry, not pip" in json.dumps(card["blocks"])

    codegen_api.set_status(run["id"], "COMPLETE", result="Run `poetry install` first.")
    wait_for(
        lambda: any(
            "poetry install" in json.dumps(m.get("blocks"))
            for m in slack_server.messages(GENERAL, thread_ts=card["ts"])
        ),
        what="the setup result in the thread",
    )


def test_setup_refuses_an_unknown_repository_and_needs_one(
    app: AppUnderTest, codegen_api: CodegenServer
) -> None:
    codegen_api.add_repo("acme/web")
    app.bot.repos.all()
    assert "acme/wbe" in app.command("setup acme/wbe").json()["text"]
    assert "Usage: /codegen setup owner/name" in app.command("setup").json()["text"]
    assert codegen_api.count(path="setup_commands") == 0


def test_setup_commands_stay_within_five_a_minute(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.add_repo("acme/web")
    app.bot.repos.all()
    for number in range(6):
        app.command(f"setup acme/web attempt {number}")
    wait_for(lambda: codegen_api.count(path="setup_commands") == 5, what="five setup calls")
    sixth = wait_for(  # the fifth is recorded as made a moment after Codegen answered it
        lambda: len(left := app.bot.store.queue_head("setup", 10)) == 1 and left, what="the sixth waiting"
    )
    assert [r.options["hint"] for r in sixth] == ["attempt 5"]
    states = (JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.RUNNING)
    waiting = wait_for(
        lambda: len(jobs := [j for j in app.bot.store.jobs_in(states) if j.kind == "setup"]) == 1 and jobs,
        what="the five made, one waiting",
    )
    assert waiting[0].request_id == sixth[0].id and waiting[0].attempts == 0  # waiting for room, not failing
    assert codegen_api.count(path="setup_commands", status=429) == 0  # the limit was never hit
    assert codegen_api.count(path="setup_commands") == 5
    assert app.bot.limits.setup_commands.wait_time() > 0
