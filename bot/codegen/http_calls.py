"""How one call to Codegen's REST API is sent: rate limits kept on the client side, careful retries,
and typed errors for what Codegen answers.

Every request first takes a slot from the limiter of its class (create / standard / logs / PR edits
/ setup commands), so the bot stays inside Codegen's limits on its own; a 429 that comes anyway is
honoured (Retry-After). Reads are retried on timeouts, dropped connections and 5xx with exponential
backoff and full jitter. Writes (`idempotent=False`) are never retried blindly: one that may have
reached Codegen is tried again only after its `recover` found no trace of it, and without `recover`
it fails at once (see `create_run` and `resume_run` in bot.codegen.run_calls).
The endpoints are in bot.codegen.client, bot.codegen.run_calls and bot.codegen.pr_calls.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.clock import Clock, SystemClock
from bot.codegen.bodies import ModelT, parser
from bot.codegen.errors import (
    AccessDenied,
    CodegenError,
    CodegenUnavailable,
    InvalidRequest,
    PlanLimitReached,
    RateLimited,
)
from bot.codegen.limiter import RateLimits, SlidingWindowLimiter
from bot.codegen.models import ErrorBody, Page, ValidationErrorBody

log = logging.getLogger("codegen_slack.codegen")

PAGE_SIZE = 100  # items per list call: the most Codegen's list endpoints give (limit ≤ 100)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
"""Failures that happen before a request leaves the client: always safe to retry."""

T = TypeVar("T")


def _invalid(errors: list[dict[str, Any]]) -> InvalidRequest:
    return InvalidRequest(errors=errors)


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


class HttpCalls:
    """Sends calls to Codegen's REST API for one organization; thread-safe, share one per process.

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
