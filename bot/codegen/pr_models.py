"""Pydantic models of the Codegen bodies for pull-request actions and setup commands (OpenAPI names noted)."""

from __future__ import annotations

from typing import Literal

from bot.codegen.models import ApiModel

PRState = Literal["open", "closed", "draft", "ready_for_review"]
"""The states EditPRInput takes: reopen, close, back to draft, ready for review."""


class EditPRInput(ApiModel):
    """EditPRInput: the body of `PATCH …/prs/{pr_id}`."""

    state: PRState


class EditPRResult(ApiModel):
    """EditPRResponse: `success` False comes with `error` (e.g. the change GitHub refused)."""

    success: bool
    url: str | None = None
    number: int | None = None
    title: str | None = None
    state: str | None = None
    error: str | None = None


class StopAgentRunInput(ApiModel):
    """StopAgentRunInput: the body of remove-from-pr, ban and unban."""

    agent_run_id: int


class GenerateSetupCommandsInput(ApiModel):
    """GenerateSetupCommandsInput: the repository, and an optional hint for the agent."""

    repo_id: int
    prompt: str | None = None


class SetupCommands(ApiModel):
    """SetupCommandsResponse: the agent run that works out the setup commands, to follow like any run."""

    agent_run_id: int
    status: str
    url: str
