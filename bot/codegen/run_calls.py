"""Codegen calls for agent runs, mixed into CodegenClient: start one (with an idempotency key, so a
lost create is found rather than made twice), read one or a page of them, send a follow-up, and read
a run's logs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.codegen.bodies import body_of, parser
from bot.codegen.errors import InvalidRequest, RepositoryNotFound, RunNotFound, RunNotResumable
from bot.codegen.http_calls import PAGE_SIZE
from bot.codegen.models import AgentRun, AgentType, CreateRunInput, ResumeRunInput, RunLogs, RunPage

if TYPE_CHECKING:
    from bot.codegen.client import CodegenClient

IDEMPOTENCY_KEY = "codegen_slack_key"
"""The `metadata` field where `create_run` stores its idempotency key."""

LOOKUP_PAGES_MAX = 10  # how deep a lost create is looked for (1,000 runs)
CLOCK_SKEW_SECONDS = 300.0  # how far Codegen's clock may be from ours when run times are compared


class RunCalls:
    """The calls of this module; CodegenClient provides `_request`, `_org_path`, `limits`, `me` and
    `_my_user_id`."""

    def create_run(
        self: CodegenClient,
        prompt: str,
        *,
        images: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        repo_id: int | None = None,
        model: str | None = None,
        agent_type: AgentType | None = None,
        idempotency_key: str | None = None,
    ) -> AgentRun:
        """Start an agent run on `prompt`; `images` are data URIs, `metadata` is free JSON.

        The idempotency key (a fresh uuid4 hex unless given) is stored in
        `metadata["codegen_slack_key"]`. When a create times out, loses its connection or gets
        a 5xx, the run may exist anyway, so before trying again the client looks for the key
        among the token user's recent API runs and returns that run if it is there.

        Raises PlanLimitReached, AccessDenied, RepositoryNotFound, InvalidRequest, RateLimited,
        CodegenUnavailable.
        """
        key = idempotency_key or uuid.uuid4().hex
        body = body_of(
            CreateRunInput,
            prompt=prompt,
            images=images,
            metadata={**(metadata or {}), IDEMPOTENCY_KEY: key},
            repo_id=repo_id,
            model=model,
            agent_type=agent_type,
        )
        return self._request(
            "POST",
            self._org_path("/agent/run"),
            self.limits.create,
            body=body,
            parse=parser(AgentRun),
            idempotent=False,
            recover=lambda: self.find_run_by_key(key),
            not_found=RepositoryNotFound,
        )

    def find_run_by_key(self: CodegenClient, key: str, since: float | None = None) -> AgentRun | None:
        """The token user's API run whose metadata carries idempotency `key`, if any: looked for among
        the newest hundred, or, given `since` (epoch seconds when the create was first tried), on
        every page down to runs made before then (at most `LOOKUP_PAGES_MAX` pages)."""
        if self._my_user_id is None:
            self.me()
        skip = 0
        for _ in range(1 if since is None else LOOKUP_PAGES_MAX):
            page = self.list_runs(user_id=self._my_user_id, source_type="API", skip=skip, limit=PAGE_SIZE)
            found = next((r for r in page.items if (r.metadata or {}).get(IDEMPOTENCY_KEY) == key), None)
            skip += len(page.items)
            if found or not page.items or skip >= page.total:
                return found
            if since is not None and _made_before(page.items[-1], since - CLOCK_SKEW_SECONDS):
                return None
        return None

    def get_run(self: CodegenClient, run_id: int, *, share: float = 1.0) -> AgentRun:
        """One agent run with its status, result and pull requests. Raises RunNotFound."""
        return self._request(
            "GET",
            self._org_path(f"/agent/run/{run_id}"),
            self.limits.standard,
            share=share,
            parse=parser(AgentRun),
            not_found=RunNotFound,
        )

    def list_runs(
        self: CodegenClient,
        *,
        user_id: int | None = None,
        source_type: str | None = None,
        skip: int = 0,
        limit: int = 100,
        share: float = 1.0,
    ) -> RunPage:
        """One page of the organization's runs, newest first; `limit` is clamped to 1..100."""
        params: dict[str, Any] = {"skip": max(0, skip), "limit": min(max(1, limit), PAGE_SIZE)}
        if user_id is not None:
            params["user_id"] = user_id
        if source_type is not None:
            params["source_type"] = source_type
        return self._request(
            "GET",
            self._org_path("/agent/runs"),
            self.limits.standard,
            share=share,
            params=params,
            parse=parser(RunPage),
        )

    def resume_run(
        self: CodegenClient, run_id: int, prompt: str, *, images: list[str] | None = None
    ) -> AgentRun:
        """Send a follow-up `prompt` to a paused run.

        Retried only when the request surely never reached Codegen (the connection could not be
        made) and on 429. A timeout, dropped connection or 5xx raises CodegenUnavailable at once:
        the prompt may have been delivered, and a duplicated prompt is worse than an error the
        caller can retry with its own deduplication.

        Raises RunNotResumable when the run is not paused (queue the prompt and try later),
        RunNotFound, AccessDenied, InvalidRequest, RateLimited, CodegenUnavailable.
        """
        body = body_of(ResumeRunInput, agent_run_id=run_id, prompt=prompt, images=images)
        return self._request(
            "POST",
            self._org_path("/agent/run/resume"),
            self.limits.standard,
            body=body,
            parse=parser(AgentRun),
            idempotent=False,
            not_found=RunNotFound,
            invalid=_resume_invalid,
        )

    def run_logs(
        self: CodegenClient,
        run_id: int,
        *,
        skip: int = 0,
        limit: int = 100,
        reverse: bool = False,
        share: float = 1.0,
    ) -> RunLogs:
        """A run with one page of its logs (alpha API); `reverse=True` gives the newest first."""
        return self._request(
            "GET",
            f"/v1/alpha/organizations/{self.org_id}/agent/run/{run_id}/logs",
            self.limits.logs,
            share=share,
            params={
                "skip": max(0, skip),
                "limit": min(max(1, limit), PAGE_SIZE),
                "reverse": reverse,
            },
            parse=parser(RunLogs),
            not_found=RunNotFound,
        )


def _resume_invalid(errors: list[dict[str, Any]]) -> InvalidRequest:
    """A 422 on resume about the run itself (not paused) means: try again later."""
    for err in errors:
        if "agent_run_id" in err.get("loc", []) or "not paused" in str(err.get("msg", "")).lower():
            return RunNotResumable(errors=errors)
    return InvalidRequest(errors=errors)


def _made_before(run: AgentRun, moment: float) -> bool:
    """Whether the run was created before `moment` (epoch seconds); False when its time is unknown."""
    try:
        created = datetime.fromisoformat(run.created_at or "")
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.timestamp() < moment
