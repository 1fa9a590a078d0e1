"""Pydantic models of the Codegen API bodies the bot sends and reads (OpenAPI schema names noted).

Every model keeps fields it does not know (`extra="allow"`), so a newer API loses nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict

FINISHED_STATUSES = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})
"""Run statuses after which a run does no more work; any other status counts as running."""

AgentType = Literal["codegen", "claude_code"]
COUNT_MAX = 2**63 - 1  # the largest integer SQLite stores


def _plausible_count(value: int | None) -> int | None:
    return value if value is None or 0 <= value <= COUNT_MAX else None


Count = Annotated[int | None, AfterValidator(_plausible_count)]
"""A count the spec leaves unbounded; None (unknown) when negative or too large to store."""


class ApiModel(BaseModel):
    """Base of all Codegen models: unknown fields are kept."""

    model_config = ConfigDict(extra="allow")


class User(ApiModel):
    """UserResponse."""

    id: int
    github_user_id: str
    github_username: str
    email: str | None = None
    avatar_url: str | None = None
    full_name: str | None = None
    role: str | None = None
    is_admin: bool | None = None


class OrganizationSettings(ApiModel):
    """OrganizationSettings."""

    enable_pr_creation: bool = True
    enable_rules_detection: bool = True


class Organization(ApiModel):
    """OrganizationResponse."""

    id: int
    name: str
    settings: OrganizationSettings


class Repository(ApiModel):
    """RepoResponse."""

    id: int
    name: str
    full_name: str
    github_id: str
    organization_id: int
    setup_status: str
    description: str | None = None
    visibility: str | None = None
    archived: bool | None = None
    language: str | None = None


class PullRequest(ApiModel):
    """GithubPullRequestResponse: a pull request an agent run opened."""

    id: int
    created_at: str
    title: str | None = None
    url: str | None = None
    head_branch_name: str | None = None


class _RunState(ApiModel):
    """Fields every run body shares."""

    id: int
    organization_id: int
    status: str | None = None
    created_at: str | None = None
    web_url: str | None = None
    result: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def is_finished(self) -> bool:
        """True once the run has stopped working (completed, failed, errored or was stopped), in any
        letter case, as storage counts it."""
        return (self.status or "").upper() in FINISHED_STATUSES


class AgentRun(_RunState):
    """AgentRunResponse. `status` is any string: unknown ones pass through and count as running."""

    summary: str | None = None
    source_type: str | None = None
    github_pull_requests: list[PullRequest] | None = None


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(ApiModel, Generic[ItemT]):
    """Page[...]: one page of a skip/limit listing."""

    items: list[ItemT]
    total: int
    page: int
    size: int
    pages: int


class RunPage(Page[AgentRun]):
    """Page[AgentRunResponse], newest run first."""


class RunLog(ApiModel):
    """AgentRunLogResponse: one step of an agent run."""

    agent_run_id: int
    created_at: str | None = None
    message_type: str | None = None
    thought: str | None = None
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    tool_output: dict[str, Any] | None = None
    observation: dict[str, Any] | str | None = None


class RunLogs(_RunState):
    """AgentRunWithLogsResponse (alpha): a run with one page of its logs."""

    logs: list[RunLog]
    total_logs: Count = None
    page: int | None = None
    size: int | None = None
    pages: int | None = None


class IntegrationStatus(ApiModel):
    """IntegrationStatus: one integration of the organization (github, slack, linear, ...)."""

    integration_type: str
    active: bool
    token_id: int | None = None
    installation_id: int | None = None
    metadata: dict[str, Any] | None = None


class Integrations(ApiModel):
    """OrganizationIntegrationsResponse."""

    organization_id: int
    organization_name: str
    integrations: list[IntegrationStatus]
    total_active_integrations: int


class CreateRunInput(ApiModel):
    """CreateAgentRunInput: the body of a create."""

    prompt: str
    images: list[str] | None = None
    metadata: dict[str, Any] | None = None
    repo_id: int | None = None
    model: str | None = None
    agent_type: AgentType | None = None


class ResumeRunInput(ApiModel):
    """ResumeAgentRunInput: the body of a resume."""

    agent_run_id: int
    prompt: str
    images: list[str] | None = None


class ErrorBody(ApiModel):
    """The `{message, status_code}` body of 402/403/404/429 answers."""

    message: str | None = None
    status_code: int | None = None


class ValidationIssue(ApiModel):
    """ValidationError: one invalid input."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(ApiModel):
    """HTTPValidationError: the body of a 422."""

    detail: list[ValidationIssue] = []
