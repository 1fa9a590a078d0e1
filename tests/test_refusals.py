"""Refusals name what would work: for an unknown repository, the closest names or the organization's."""

from __future__ import annotations

import pytest

from bot.codegen import InvalidRequest, PlanLimitReached
from bot.refusals import create_refusal
from bot.repos import REPOS_LISTED, unknown_repository
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

NAMES = ["acme/web", "acme/webhooks", "acme/api", "other/billing"]


@pytest.mark.parametrize(
    ("asked", "suggested"),
    [
        ("acme/wbe", "`acme/web`"),
        ("billng", "`other/billing`"),  # the name without its owner is matched too
        ("someone/webhook", "`acme/webhooks`"),
    ],
)
def test_a_near_miss_names_the_closest_repositories(asked: str, suggested: str) -> None:
    message = unknown_repository(asked, NAMES)
    assert message.startswith(f"Codegen has no repository called `{asked}`. Did you mean ")
    assert suggested in message and "/codegen repos" not in message


def test_nothing_close_names_the_organizations_repositories_up_to_ten() -> None:
    few = unknown_repository("nope/nothing", NAMES)
    assert few.endswith("The organization's repositories: `acme/api`, `acme/web`, `acme/webhooks`, "
                        "`other/billing`.")  # fmt: skip
    many = [f"org/repo-{number:02d}" for number in range(25)]
    message = unknown_repository("nope/nothing", many)
    assert all(f"`org/repo-{number:02d}`" in message for number in range(REPOS_LISTED))
    assert "`org/repo-10`" not in message
    assert message.endswith(", and 15 more: `/codegen repos`.")


def test_an_organization_without_repositories_says_so() -> None:
    assert unknown_repository("acme/web", []).endswith("The Codegen organization has no repositories yet.")


def test_a_refused_model_points_to_the_organizations_default() -> None:
    refused = InvalidRequest(errors=[{"loc": ["body", "model"], "msg": "unknown model"}])
    assert create_refusal(refused, "gpt-9") == (
        "Codegen rejected the request: model: unknown model Codegen does not offer the model `gpt-9`: "
        "leave out model= (and clear your default model in the bot's Home tab, if you set one) to use "
        "the organization's default model."
    )
    assert create_refusal(refused, None) == refused.user_message  # no model named: nothing to add
    assert create_refusal(PlanLimitReached(), "gpt-9") == PlanLimitReached().user_message


def test_a_run_refused_with_a_model_says_how_to_do_without_it(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    codegen_api.fail_next(1, 422, path="create_run")
    app.command("fix it model=nonsense-1")
    channel = "C0GENERAL"
    wait_for(lambda: "leave out model=" in str(slack_server.messages(channel)), what="the refusal in Slack")
    assert "If `nonsense-1` is not a model Codegen offers" in str(slack_server.messages(channel))
    assert codegen_api.runs() == []
