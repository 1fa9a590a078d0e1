"""The Codegen REST client: typed calls, rate limits kept on the client side, careful retries.

Every request first takes a slot from the limiter of its class (create / standard / logs), so the
bot stays inside Codegen's limits on its own; a 429 that comes anyway is honoured (Retry-After).
Reads are retried on timeouts, dropped connections and 5xx with exponential backoff and full
jitter. Writes are never retried blindly: see `CodegenClient.create_run` and
`CodegenClient.resume_run`.
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.clock import Clock, SystemClock
from bot.codegen.bodies import ModelT, body_of, parser
from bot.codegen.errors import (
    AccessDenied,
    CodegenError,
    CodegenUnavailable,
    InvalidRequest,
    PlanLimitReached,
    RateLimited,
    RepositoryNotFound,
    RunNotFound,
    RunNotResumable,
)
from bot.codegen.limiter import RateLimits, SlidingWindowLimiter
from bot.codegen.models import (
    AgentRun,
    AgentType,
    CreateRunInput,
    ErrorBody,
    Integrations,
    Organization,
    Page,
    Repository,
    ResumeRunInput,
    RunLogs,
    RunPage,
    User,
    ValidationErrorBody,
)
from bot.codegen.pr_calls import PullRequestCalls

log = logging.getLogger("codegen_slack.codegen")

IDEMPOTENCY_KEY = "codegen_slack_key"
"""The `metadata` field where `create_run` stores its idempotency key."""

PAGE_SIZE = 100
LOOKUP_PAGES_MAX = 10  # how deep a lost create is looked for (1,000 runs)
CLOCK_SKEW_SECONDS = 300.0  # how far Codegen's clock may be from ours when run times are compared
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
"""Failures that happen before a request leaves the client: always safe to retry."""

T = TypeVar("T")


def _invalid(errors: list[dict[str, Any]]) -> InvalidRequest:
    return InvalidRequest(errors=errors)


def _resume_invalid(errors: list[dict[str, Any]]) -> InvalidRequest:
    """A 422 on resume about the run itself (not paused) means: try again later."""
    for err in errors:
        if "agent_run_id" in err.get("loc", []) or "not paused" in str(err.get("msg", "")).lower():
            return RunNotResumable(errors=errors)
    return _invalid(errors)


def _validation_issues(data: Any) -> list[dict[str, Any]]:
    """The `detail` list of a 422 body; empty if the body is not the documented shape."""
    try:
        return [issue.model_dump() for issue in ValidationErrorBody.model_validate(data).detail]
    except ValidationError:
        return []


def _error_message(data: Any) -> str | None:
    """The `message` of a `{message, status_code}` error body, if there is one."""
    try:
        return ErrorBody.model_validate(data).message
    except ValidationError:
        return None


def _retry_after(response: httpx.Response, now: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or HTTP date); 1 if absent or bad."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else 1.0
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return 1.0


class CodegenClient(PullRequestCalls):
    """Calls Codegen's REST API for one organization; thread-safe, share one per process.

    Pass the process-wide `RateLimits` to every client so they all draw from the same budget.
    `transport` swaps the network for tests; `clock` and `rng` make waits and jitter testable;
    `on_call(limit_class, outcome)` hears of every attempt (for metrics).
    """

    def __init__(
        self,
        *,
        base_url: str = "https://api.codegen.com",
        token: str,
        org_id: int,
        limits: RateLimits | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        rng: random.Random | None = None,
        on_call: Callable[[str, str], None] | None = None,
    ) -> None:
        self.org_id = org_id
        self._on_call = on_call
        self._clock = clock or SystemClock()
        self.limits = limits or RateLimits.from_counts(clock=self._clock)
        self._max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._my_user_id: int | None = None
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> CodegenClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- users and the organization ---------------------------------------------------------

    def me(self) -> User:
        """The user the API token belongs to (`GET /v1/users/me`)."""
        user = self._request("GET", "/v1/users/me", self.limits.standard, parse=parser(User))
        self._my_user_id = user.id
        return user

    def organizations(self) -> list[Organization]:
        """Every organization the token can see, all pages (`GET /v1/organizations`)."""
        return self._all_pages("/v1/organizations", Organization)

    def users(self) -> list[User]:
        """Every member of the organization, all pages."""
        return self._all_pages(self._org_path("/users"), User)

    def repositories(self) -> list[Repository]:
        """Every repository of the organization, all pages."""
        return self._all_pages(self._org_path("/repos"), Repository)

    def integrations(self) -> Integrations:
        """Which integrations (GitHub, Slack, Linear, ...) the organization has set up."""
        return self._request(
            "GET", self._org_path("/integrations"), self.limits.standard, parse=parser(Integrations)
        )

    # -- agent runs --------------------------------------------------------------------------

    def create_run(
        self,
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

    def find_run_by_key(self, key: str, since: float | None = None) -> AgentRun | None:
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

    def get_run(self, run_id: int, *, share: float = 1.0) -> AgentRun:
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
        self,
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

    def resume_run(self, run_id: int, prompt: str, *, images: list[str] | None = None) -> AgentRun:
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
        self,
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

    # -- plumbing ----------------------------------------------------------------------------

    def _org_path(self, suffix: str) -> str:
        return f"/v1/organizations/{self.org_id}{suffix}"

    def _all_pages(self, path: str, item: type[ModelT]) -> list[ModelT]:
        items: list[ModelT] = []
        parse = parser(Page[item])  # type: ignore[valid-type]
        while True:
            page = self._request(
                "GET",
                path,
                self.limits.standard,
                params={"skip": len(items), "limit": PAGE_SIZE},
                parse=parse,
            )
            items.extend(page.items)
            if not page.items or len(page.items) < PAGE_SIZE or len(items) >= page.total:
                return items

    def _request(
        self,
        method: str,
        path: str,
        limiter: SlidingWindowLimiter,
        *,
        parse: Callable[[Any], T],
        share: float = 1.0,
        params: dict[str, Any] | None = None,
        body: BaseModel | None = None,
        idempotent: bool = True,
        recover: Callable[[], T | None] | None = None,
        not_found: type[CodegenError] = CodegenError,
        invalid: Callable[[list[dict[str, Any]]], InvalidRequest] = _invalid,
    ) -> T:
        """Send one call with limiter, 429 and retry handling; `parse` turns JSON into the result.

        A failure that may have reached the server is retried only if the call is idempotent,
        or after `recover` (which looks for the effect of the earlier attempt) found nothing.
        """
        payload = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        attempt = 0
        while True:
            attempt += 1
            try:
                with limiter.slot(share):
                    response = self._http.request(method, path, params=params, json=payload)
            except httpx.TransportError as exc:
                self._observe(limiter, "unreachable")
                failure: str = f"{type(exc).__name__}: {exc}"
                maybe_sent = not isinstance(exc, _NOT_SENT)
                cause: Exception | None = exc
                status: int | None = None
            else:
                self._observe(limiter, str(response.status_code))
                if response.status_code == 429:
                    self._wait_after_429(response, limiter, method, path, attempt)
                    continue
                if response.status_code < 500:
                    return self._result(response, parse, not_found, invalid)
                failure, maybe_sent, cause = f"HTTP {response.status_code}", True, None
                status = response.status_code
            if maybe_sent and not idempotent and recover is None:
                raise CodegenUnavailable(status_code=status) from cause
            if attempt >= self._max_attempts:  # a caller that retries looks for a lost effect itself
                raise CodegenUnavailable(status_code=status) from cause
            look_first = maybe_sent and recover is not None
            delay = self._backoff(attempt)
            log.warning(
                "Codegen %s %s failed (%s); attempt %d/%d, next step in %.2fs",
                method,
                path,
                failure,
                attempt,
                self._max_attempts,
                delay,
            )
            self._clock.sleep(delay)
            if look_first and recover is not None and (found := recover()) is not None:
                log.info("Codegen %s %s had succeeded after all", method, path)
                return found

    def _observe(self, limiter: SlidingWindowLimiter, outcome: str) -> None:
        """Report one answered (or failed) call to `on_call` as (limit class, outcome)."""
        if self._on_call is not None:
            names = {
                id(self.limits.create): "create",
                id(self.limits.logs): "logs",
                id(self.limits.pr_edits): "pr_edits",
                id(self.limits.setup_commands): "setup_commands",
            }
            self._on_call(names.get(id(limiter), "standard"), outcome)

    def _wait_after_429(
        self,
        response: httpx.Response,
        limiter: SlidingWindowLimiter,
        method: str,
        path: str,
        attempt: int,
    ) -> None:
        """Honour Retry-After on the shared limiter, or raise RateLimited when out of attempts."""
        retry_after = _retry_after(response, self._clock.now())
        limiter.penalize(retry_after)
        if attempt >= self._max_attempts:
            raise RateLimited(retry_after=retry_after)
        log.warning(
            "Codegen %s %s answered 429; attempt %d/%d, retrying in %.2fs",
            method,
            path,
            attempt,
            self._max_attempts,
            retry_after,
        )
        self._clock.sleep(retry_after)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    @staticmethod
    def _result(
        response: httpx.Response,
        parse: Callable[[Any], T],
        not_found: type[CodegenError],
        invalid: Callable[[list[dict[str, Any]]], InvalidRequest],
    ) -> T:
        """Parse a 2xx answer, or raise the typed error for a 4xx."""
        code = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        if 200 <= code < 300:
            try:
                return parse(data)
            except ValidationError as exc:
                log.error("Codegen answered a body that does not match the API: %s", exc)
                raise CodegenUnavailable(
                    "Codegen sent an answer the bot does not understand.", status_code=code
                ) from None
        if code == 422:
            raise invalid(_validation_issues(data))
        error = {401: AccessDenied, 402: PlanLimitReached, 403: AccessDenied, 404: not_found}.get(code)
        if error is not None and error is not CodegenError:
            raise error(status_code=code)
        message = _error_message(data)
        raise CodegenError(f"Codegen could not do that: {message}" if message else None, status_code=code)


def _made_before(run: AgentRun, moment: float) -> bool:
    """Whether the run was created before `moment` (epoch seconds); False when its time is unknown."""
    try:
        created = datetime.fromisoformat(run.created_at or "")
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.timestamp() < moment
