"""One call to Slack's Web API: a WebClient that retries only what is safe to repeat, Slack's limit
for each method waited for, every outcome counted, and a refused token noted for /healthz."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.clock import SystemClock
from bot.slack_errors import AUTH, slack_error
from bot.slack_limits import SlackLimits

log = logging.getLogger("codegen_slack.slack")


# Posting is the one call that is not idempotent: after a 5xx or a lost connection the message may
# be in Slack already, so it is not retried blindly; callers that must post once use `SlackOut.post_once`.
NOT_IDEMPOTENT = frozenset({"chat.postMessage"})


class _IdempotentOnly(RetryHandler):
    """Wraps a retry handler so that it never repeats a call that may already have taken effect."""

    def __init__(self, inner: RetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self._inner = inner

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        never_sent = isinstance(error, URLError) and isinstance(error.reason, ConnectionRefusedError)
        return (method not in NOT_IDEMPOTENT or never_sent) and self._inner._can_retry(
            state=state, request=request, response=response, error=error
        )


def unreachable_reason(exc: OSError) -> str:
    """Why a Slack call could not be made, in a few words ("Connection refused", "timed out", a name
    that does not resolve), from the URLError or socket error slack_sdk raised."""
    reason: object = exc.reason if isinstance(exc, URLError) else exc
    text = getattr(reason, "strerror", None) or str(reason)
    return text or type(exc).__name__


def make_web_client(token: str | None, base_url: str, timeout: float = 15.0) -> WebClient:
    """A WebClient that retries rate limits (honouring Retry-After), and 5xx and connection errors
    of every call that is safe to repeat."""
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    client.retry_handlers = [
        _IdempotentOnly(ConnectionErrorRetryHandler(max_retry_count=3)),
        RateLimitErrorRetryHandler(max_retry_count=5),
        _IdempotentOnly(ServerErrorRetryHandler(max_retry_count=3)),
    ]
    return client


@dataclass
class SlackHealth:
    """Whether Slack accepts our token; the last auth failure is kept for /healthz."""

    auth_error: str | None = None


class SlackCalls:
    """Sends Web API calls, each within Slack's limit for it (`limits`); `on_call(method, outcome)`
    hears of every answer (for metrics), and `health` keeps the last auth failure."""

    def __init__(
        self,
        client: WebClient,
        health: SlackHealth | None = None,
        on_call: Callable[[str, str], None] | None = None,
        limits: SlackLimits | None = None,
    ) -> None:
        self.client = client
        self.health = health or SlackHealth()
        self.limits = limits or SlackLimits(SystemClock())
        self._on_call = on_call or (lambda method, outcome: None)
        # What Slack said once and this process remembers:
        self._home: tuple[str | None, str | None] | None = None  # auth.test's team_id and enterprise_id
        self._team_names: dict[str, str | None] = {}  # team id → its name (None: Slack would not say)
        self._dm_channels: dict[str, str] = {}  # user → their DM with the bot
        self._joined: set[str] = set()  # public channels joined by this process

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        limiter = self.limits.limiter(method, params.get("channel"))
        if limiter is None:
            return self._send(method, params)
        with limiter.slot():
            return self._send(method, params)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Any other Web API method (e.g. "agents.sessions.setStatus"), within its limit; its answer.
        Raises SlackApiError as the other calls do."""
        return self._call(method, **params)

    def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = getattr(self.client, method.replace(".", "_"))(**params)
        except SlackApiError as exc:
            error = slack_error(exc)
            self._on_call(method, error)
            if error in AUTH:
                self.health.auth_error = error
                log.error("Slack refused the bot token (%s): reinstall the app or fix SLACK_BOT_TOKEN", error)
            raise
        except OSError:
            self._on_call(method, "unreachable")
            raise
        self._on_call(method, "ok")
        self.health.auth_error = None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def auth_test(self) -> dict[str, Any]:
        """Who the bot token belongs to (auth.test); a refused token is noted in `health` as by any call."""
        return self._call("auth.test")

    def token_works(self) -> bool:
        """Whether Slack accepts the bot token now (auth.test); clears the auth error when it does."""
        try:
            self.auth_test()
        except (SlackApiError, OSError):
            return False
        return True
