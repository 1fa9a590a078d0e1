"""Everything the bot says in Slack goes through here: retries, fallbacks and idempotent posts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
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
from slack_sdk.webhook import WebhookClient

from bot.clock import SystemClock
from bot.render.messages import SlackMessage
from bot.slack_errors import AUTH, OUR_BUG, UNREACHABLE_CHANNEL, slack_error
from bot.slack_limits import SlackLimits

log = logging.getLogger("codegen_slack.slack")

PLAIN_MAX = 3_000  # characters of a message sent again as plain text (Slack's section text limit)
# How far Slack's clock may be behind ours when a channel's recent messages are searched.
CLOCK_SKEW_SECONDS = 300.0


# Posting is the one call that is not idempotent: after a 5xx or a lost connection the message may
# be in Slack already, so it is not retried blindly; callers that must post once use `post_once`.
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


class SlackOut:
    """Posts, edits, reactions and ephemerals, with a DM fallback when a channel is unreachable;
    every call waits for room in Slack's limit for it (`limits`)."""

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
        self._dm_channels: dict[str, str] = {}  # user → their DM with the bot
        self._joined: set[str] = set()  # public channels joined by this process
        self._home: tuple[str | None, str | None] | None = None  # auth.test's team_id and enterprise_id
        self._team_names: dict[str, str | None] = {}  # team id → its name (None: Slack would not say)

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

    def post(
        self, channel: str, message: SlackMessage, *, thread_ts: str | None = None, broadcast: bool = False
    ) -> str:
        """Post a message (in a thread when `thread_ts` is given); returns its ts."""
        params: dict[str, Any] = {"channel": channel, "text": message.text, "blocks": message.blocks}
        if thread_ts:
            params["thread_ts"] = thread_ts
            if broadcast:
                params["reply_broadcast"] = True
        if message.metadata:
            params["metadata"] = message.metadata
        if message.attachments:
            params["attachments"] = message.attachments
        return str(self._with_plain_fallback("chat.postMessage", params)["ts"])

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        """Edit a message the bot posted."""
        params: dict[str, Any] = {
            "channel": channel,
            "ts": ts,
            "text": message.text,
            "blocks": message.blocks,
        }
        if message.metadata:
            params["metadata"] = message.metadata
        if message.attachments:
            params["attachments"] = message.attachments
        self._with_plain_fallback("chat.update", params)

    def _with_plain_fallback(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a message; when Slack refuses what we built (our bug: invalid blocks, too long), log
        it and send the message again as plain text, cut to what Slack takes."""
        try:
            return self._call(method, **params)
        except SlackApiError as exc:
            if slack_error(exc) not in OUR_BUG:
                raise
            log.error(
                "Slack refused a message the bot built (%s); sending it as plain text", slack_error(exc)
            )
        text = str(params.get("text") or "")
        plain = {
            **params,
            "blocks": [],
            "attachments": [],
            "text": text if len(text) <= PLAIN_MAX else text[: PLAIN_MAX - 1] + "…",
        }
        return self._call(method, **plain)

    def react(self, channel: str, ts: str, name: str) -> None:
        """Add a reaction; adding one that is already there is fine."""
        try:
            self._call("reactions.add", channel=channel, timestamp=ts, name=name)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                raise

    def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Show `text` (or `blocks`, with `text` as their fallback) to one user only; in a DM (or if
        that fails) send it as a DM message."""
        if channel.startswith("D"):
            self._call("chat.postMessage", channel=channel, text=text, thread_ts=thread_ts, blocks=blocks)
            return
        try:
            params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
            if thread_ts:
                params["thread_ts"] = thread_ts
            if blocks:
                params["blocks"] = blocks
            self._call("chat.postEphemeral", **params)
        except SlackApiError as exc:
            if exc.response.get("error") not in UNREACHABLE_CHANNEL:
                raise
            self.direct_message(user, SlackMessage(text=text, blocks=blocks or []))

    def direct_message(self, user: str, message: SlackMessage) -> str:
        """Post in the DM with `user`, opened once (conversations.open allows only about 20 calls a
        minute) and then reused; returns the DM channel id."""
        channel = self._dm_channels.get(user)
        if channel is None:
            channel = str(self._call("conversations.open", users=user)["channel"]["id"])
            self._dm_channels[user] = channel
        try:
            self.post(channel, message)
        except SlackApiError:
            self._dm_channels.pop(user, None)  # perhaps closed to the bot since: open it afresh next time
            raise
        return channel

    def post_once(
        self,
        channel: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
        retrying: bool,
        match: dict[str, Any],
        since: float = 0.0,
    ) -> str:
        """Post `message` unless an earlier attempt already did; returns the ts of the one post.

        `retrying` says that an earlier attempt may have reached Slack (the caller noted the attempt
        durably before it); then the bot's messages in the thread (or, top level, in the channel since
        `since`) are searched first for one whose metadata has the message's event type and the
        payload fields in `match`.
        """
        event_type = (message.metadata or {}).get("event_type")
        if retrying and event_type:
            for found in self._bot_posts(channel, thread_ts, since):
                meta = found["metadata"]
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == event_type and match.items() <= payload.items():
                    log.info("an earlier attempt had posted the %s message; not posting it again", event_type)
                    return str(found["ts"])
        return self.post(channel, message, thread_ts=thread_ts)

    def thread_payloads(self, channel: str, thread_ts: str, event_type: str) -> list[dict[str, Any]]:
        """The metadata payloads of the bot's messages of `event_type` in a thread (crash recovery)."""
        return [
            (message["metadata"].get("event_payload") or {})
            for message in self._bot_posts(channel, thread_ts)
            if message["metadata"].get("event_type") == event_type
        ]

    def _bot_posts(self, channel: str, thread_ts: str | None, since: float = 0.0) -> Iterator[dict[str, Any]]:
        """Messages with metadata in a thread, or at the top of a channel since `since` (newest first)."""
        method = "conversations.replies" if thread_ts else "conversations.history"
        params: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": 200}
        if thread_ts:
            params["ts"] = thread_ts
        elif since:
            params["oldest"] = f"{max(0.0, since - CLOCK_SKEW_SECONDS):.6f}"
        while True:
            data = self._call(method, **params)
            for message in data.get("messages", []):
                if message.get("metadata") and message.get("bot_id"):
                    yield message
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor

    def auth_test(self) -> dict[str, Any]:
        """Who the bot token belongs to (auth.test); a refused token is noted in `health` as by any call."""
        return self._call("auth.test")

    def workspace(self) -> tuple[str | None, str | None]:
        """The bot's own workspace id and, on Enterprise Grid, its org's (auth.test, asked once)."""
        if self._home is None:
            found = self.auth_test()
            self._home = (found.get("team_id") or None, found.get("enterprise_id") or None)
        return self._home

    def home_teams(self) -> frozenset[str]:
        """The ids of the bot's own workspace and, on Enterprise Grid, its org."""
        return frozenset(team for team in self.workspace() if team)

    def name_of_team(self, team: str) -> str | None:
        """A Slack team's name (team.info, asked once per team), or None when Slack does not say."""
        if team not in self._team_names:
            try:
                found = self._call("team.info", team=team).get("team") or {}
            except SlackApiError as exc:
                log.info("no name for team %s (team.info: %s)", team, exc.response.get("error"))
                found = {}
            self._team_names[team] = str(found.get("name") or "") or None
        return self._team_names[team]

    def user_info(self, user: str) -> dict[str, Any]:
        """Slack's record of a workspace member (users.info): name, real_name, profile, is_bot, …"""
        return dict(self._call("users.info", user=user).get("user") or {})

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """Show `view` as `user`'s App Home tab."""
        self._call("views.publish", user_id=user, view=view)

    def thread_messages(self, channel: str, thread_ts: str, limit: int = 50) -> list[dict[str, Any]]:
        """A thread's messages, parent first (used as context for a new run)."""
        data = self._call("conversations.replies", channel=channel, ts=thread_ts, limit=limit)
        return list(data.get("messages", []))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message, top level or in a thread (its `thread_ts` names its thread), or None when the
        conversation does not have it (conversations.replies)."""
        data = self._call("conversations.replies", channel=channel, ts=ts, oldest=ts, inclusive=True, limit=2)
        return next((m for m in data.get("messages", []) if m.get("ts") == ts), None)

    def permalink(self, channel: str, ts: str) -> str:
        """The link to a message (chat.getPermalink), which opens it in its thread."""
        return str(self._call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"])

    def join(self, channel: str) -> bool:
        """Join a public channel (conversations.join), once per channel for this process, so that its
        thread replies reach the bot; False where the bot cannot join (a private channel, archived,
        gone, or the scope missing): it must be invited there."""
        if channel in self._joined:
            return True
        try:
            self._call("conversations.join", channel=channel)
        except SlackApiError as exc:
            log.info("could not join %s (%s)", channel, slack_error(exc))
            return False
        self._joined.add(channel)
        return True

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal (views.open); Slack accepts the trigger only within 3 s of the click, so this
        is called at once, before the ack, not from a job."""
        self._call("views.open", trigger_id=trigger_id, view=view)

    def respond(self, response_url: str, text: str) -> None:
        """Answer a slash command privately through its response_url (valid 30 min, 5 answers)."""
        response = WebhookClient(response_url, timeout=15).send(text=text, response_type="ephemeral")
        outcome = "ok" if response.status_code == 200 else f"http_{response.status_code}"
        self._on_call("response_url", outcome)
        if response.status_code == 429 or response.status_code >= 500:
            raise OSError(f"response_url answered HTTP {response.status_code}")

    def token_works(self) -> bool:
        """Whether Slack accepts the bot token now (auth.test); clears the auth error when it does."""
        try:
            self.auth_test()
        except (SlackApiError, OSError):
            return False
        return True
