"""Property tests over Codegen's OpenAPI schemas: any answer the spec allows parses into our models,
and what the bot makes of it in Slack (cards, results, DMs, status text, App Home, steps, repository
lists) never raises and stays within Slack's limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bot.codegen import (
    AgentRun,
    ErrorBody,
    Integrations,
    Organization,
    Repository,
    RunLogs,
    RunPage,
    User,
    ValidationErrorBody,
)
from bot.codegen.models import Page
from bot.render.config import repos_text
from bot.render.messages import error_text
from bot.render.modals import OPTION_TEXT_MAX, OPTION_VALUE_MAX, repo_options
from bot.render.status_card import status_message
from bot.render.steps import latest_step, steps_message
from bot.repos import UnknownRepository, find_repository
from storage.store import Store
from tests.answer_paths import T0, recorded, rendered
from tests.codegen_schemas import answers, nullable_fields
from tests.slack_checks import assert_slack_accepts, assert_text_fits

ANSWER_SETTINGS = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is never a fluke
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(str(tmp_path_factory.mktemp("answers") / "bot.db"))
    yield store
    store.close()


def check_run(store: Store, answer: dict[str, Any]) -> None:
    rendered(recorded(store, answer))


def check_run_page(store: Store, answer: dict[str, Any]) -> None:
    """The watcher's list call: each run on the page as the watcher records it."""
    for item in RunPage.model_validate(answer).items:
        recorded(store, item.model_dump())


def check_run_logs(store: Store, answer: dict[str, Any]) -> None:
    """The progress worker's path: the latest step and the step count onto the card; and "Show steps"."""
    page = RunLogs.model_validate(answer)
    run = recorded(store, {"organization_id": 7, "status": "RUNNING"})
    store.record_progress(run.run_id, now=T0, step=latest_step(page.logs), count=page.total_logs)
    shown = store.get_run(run.run_id)
    assert shown is not None
    assert_slack_accepts(status_message(shown, T0 + 120))
    assert_slack_accepts(steps_message(run.run_id, page.logs, page.total_logs or len(page.logs)))


def check_repos(store: Store, answer: dict[str, Any]) -> None:
    """`/codegen repos`, the repository menu, and `repo=` with a name that matches none."""
    repos = Page[Repository].model_validate(answer).items
    names = [repo.full_name for repo in repos]
    assert_text_fits(repos_text(names))
    for option in repo_options(names, ""):
        assert 0 < len(option["text"]["text"]) <= OPTION_TEXT_MAX
        assert 0 < len(option["value"]) <= OPTION_VALUE_MAX
    try:
        find_repository(repos, "no-such/repo")
    except UnknownRepository as exc:
        assert_text_fits(error_text(str(exc)))


def parses_as(model: type[BaseModel]) -> Callable[[Store, dict[str, Any]], None]:
    """A check for answers the bot only reads fields of: that they parse."""

    def check(store: Store, answer: dict[str, Any]) -> None:
        model.model_validate(answer)

    return check


CHECKS: dict[str, Callable[[Store, dict[str, Any]], None]] = {
    "AgentRunResponse": check_run,
    "Page_AgentRunResponse_": check_run_page,
    "AgentRunWithLogsResponse": check_run_logs,
    "Page_RepoResponse_": check_repos,
    "UserResponse": parses_as(User),
    "Page_UserResponse_": parses_as(Page[User]),
    "Page_OrganizationResponse_": parses_as(Page[Organization]),
    "OrganizationIntegrationsResponse": parses_as(Integrations),
    "HTTPValidationError": parses_as(ValidationErrorBody),
    "APIRateLimitErrorResponse": parses_as(ErrorBody),
}
"""Every answer body the bot parses (OpenAPI schema name) and what the bot does with it."""

NULLABLE = [
    (name, field)
    for name in ("AgentRunResponse", "AgentRunWithLogsResponse", "Page_RepoResponse_", "UserResponse",
                 "OrganizationIntegrationsResponse")  # the other answers hold these objects
    for field in nullable_fields(name)
]


@settings(ANSWER_SETTINGS, max_examples=40)
@given(answer=answers("AgentRunResponse"))
def test_any_run_answer_reaches_every_view_of_the_run_within_slacks_limits(
    store: Store, answer: dict[str, Any]
) -> None:
    check_run(store, answer)


@pytest.mark.parametrize("name", [name for name in CHECKS if name != "AgentRunResponse"])
@settings(ANSWER_SETTINGS, max_examples=8)
@given(data=st.data())
def test_any_answer_the_spec_allows_is_parsed_and_shown(store: Store, name: str, data: st.DataObject) -> None:
    CHECKS[name](store, data.draw(answers(name)))


@pytest.mark.parametrize(("name", "null"), NULLABLE, ids=[f"{n}-{c}.{f}" for n, (c, f) in NULLABLE])
@settings(ANSWER_SETTINGS, max_examples=2)  # the simplest such answer, and one other
@given(data=st.data())
def test_every_nullable_field_may_be_null(
    store: Store, name: str, null: tuple[str, str], data: st.DataObject
) -> None:
    CHECKS[name](store, data.draw(answers(name, null=null)))


def test_every_nullable_field_of_the_parsed_answers_is_tested() -> None:
    pull_request = {field for _, (component, field) in NULLABLE if component == "GithubPullRequestResponse"}
    assert pull_request == {"title", "url", "head_branch_name"}
    assert {component for _, (component, _) in NULLABLE} >= {
        "AgentRunResponse", "AgentRunWithLogsResponse", "AgentRunLogResponse", "RepoResponse",
        "UserResponse", "IntegrationStatus",
    }


def test_a_status_in_any_letter_case_counts_the_same_in_models_and_storage(store: Store) -> None:
    assert AgentRun.model_validate({"id": 1, "organization_id": 7, "status": "complete"}).is_finished
    assert recorded(store, {"organization_id": 7, "status": "complete"}).finished
    assert not recorded(store, {"organization_id": 7, "status": "COMPLETED_SOMEHOW"}).finished
