"""Codegen calls for a run's pull requests and for setup commands, mixed into CodegenClient.

- `PATCH /v1/organizations/{org_id}/prs/{pr_id}` (or `…/repos/{repo_id}/prs/{pr_id}`), body `state`:
  30 a minute; the token's user needs write access to the repository. Setting a state twice does no
  harm, so it is retried like a read.
- `POST …/agent/run/remove-from-pr`, `…/ban`, `…/unban`, body `agent_run_id`: flag the run's PR so
  Codegen stops acting on its check suites (remove-from-pr and ban also stop the PR's agents), or
  lift that flag. Idempotent as well.
- `POST …/setup-commands/generate`, body `repo_id` and an optional `prompt`: 5 a minute; it starts an
  agent run (never retried blindly: a second call would start a second one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.codegen.bodies import body_of, parser
from bot.codegen.errors import CodegenError, RepositoryNotFound, RunNotFound
from bot.codegen.pr_models import (
    EditPRInput,
    EditPRResult,
    GenerateSetupCommandsInput,
    PRState,
    SetupCommands,
    StopAgentRunInput,
)

if TYPE_CHECKING:
    from bot.codegen.client import CodegenClient


class PullRequestNotFound(CodegenError):
    """404 on a PR edit: Codegen knows no such pull request (in that repository)."""

    default_message = "Codegen could not find that pull request."


PR_FLAGS = ("remove-from-pr", "ban", "unban")


class PullRequestCalls:
    """The calls of this module; CodegenClient provides `_request`, `_org_path` and `limits`."""

    def edit_pull_request(
        self: CodegenClient, pr_id: int, state: PRState, *, repo_id: int | None = None
    ) -> EditPRResult:
        """Set a pull request's state (`open`, `closed`, `draft`, `ready_for_review`); the answer's
        `success` False carries GitHub's `error`. Raises PullRequestNotFound, AccessDenied (403: no
        write access, or no access to the organization), InvalidRequest, RateLimited,
        CodegenUnavailable."""
        scope = f"/repos/{repo_id}" if repo_id is not None else ""
        return self._request(
            "PATCH",
            self._org_path(f"{scope}/prs/{pr_id}"),
            self.limits.pr_edits,
            body=body_of(EditPRInput, state=state),
            parse=parser(EditPRResult),
            not_found=PullRequestNotFound,
        )

    def flag_pull_request(self: CodegenClient, run_id: int, call: str) -> None:
        """`call` one of PR_FLAGS for the PR of agent run `run_id`. Raises RunNotFound, AccessDenied,
        InvalidRequest, RateLimited, CodegenUnavailable."""
        if call not in PR_FLAGS:
            raise ValueError(f"unknown PR flag call {call!r}")
        self._request(
            "POST",
            self._org_path(f"/agent/run/{call}"),
            self.limits.standard,
            body=body_of(StopAgentRunInput, agent_run_id=run_id),
            parse=_ignore,
            not_found=RunNotFound,
        )

    def generate_setup_commands(
        self: CodegenClient, repo_id: int, prompt: str | None = None
    ) -> SetupCommands:
        """Start the agent run that works out a repository's setup commands. Raises RepositoryNotFound,
        AccessDenied, InvalidRequest, RateLimited, CodegenUnavailable (the run may exist then)."""
        return self._request(
            "POST",
            self._org_path("/setup-commands/generate"),
            self.limits.setup_commands,
            body=body_of(GenerateSetupCommandsInput, repo_id=repo_id, prompt=prompt or None),
            parse=parser(SetupCommands),
            idempotent=False,
            not_found=RepositoryNotFound,
        )


def _ignore(data: Any) -> None:
    """The flag calls answer an undocumented body: nothing to read."""
    return None
