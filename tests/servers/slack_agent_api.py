"""The Slack test server's agent and link methods, as docs.slack.dev describes them:

- `agents.sessions.setStatus` (chat:write; statuses active, processing, suspended, closed; title at
  most 200 characters, used only when the session is made; a `warning` of
  missing_agent_session_stopped_event_subscription while the app does not subscribe to
  `agent_session_stopped`);
- `assistant.threads.setStatus` (chat:write; status text, up to 10 loading_messages; "" clears);
- `chat.unfurl` (links:write; channel and ts, or unfurl_id and source; `unfurls` a JSON map of URLs
  that are in the message; a second call for the same message replaces the first);
- the events they go with (`agent_session_stopped`, `link_shared`) are built by `*_event` below.

Every call is recorded, so tests read the sessions' status history, the loading texts and unfurls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.servers.slack_server import SlackServer

SESSION_STATUSES = ("active", "processing", "suspended", "closed")
MAX_TITLE_CHARS = 200
MAX_LOADING_MESSAGES = 10
STOP_EVENT = "agent_session_stopped"


@dataclass
class Session:
    """One agent session on a thread, with every status it was given, in order."""

    channel: str
    thread_ts: str
    title: str | None
    initiator: str | None
    statuses: list[str] = field(default_factory=list)
    loading: list[str] = field(default_factory=list)  # every assistant.threads.setStatus text ("" clears)


class AgentApi:
    """The methods' handlers and what they recorded; `subscribed` are the app's bot events."""

    def __init__(self, server: SlackServer, subscribed: set[str]) -> None:
        self._server = server
        self.subscribed = subscribed
        self.sessions: dict[tuple[str, str], Session] = {}
        self.unfurls: dict[tuple[str, str], dict[str, Any]] = {}
        self.unfurl_calls: list[dict[str, Any]] = []

    def handlers(self) -> dict[str, Any]:
        return {
            "agents.sessions.setStatus": self._set_session_status,
            "assistant.threads.setStatus": self._set_loading,
            "chat.unfurl": self._unfurl,
        }

    def _thread(self, params: dict[str, Any]) -> tuple[str, str]:
        from tests.servers.slack_server import SlackError

        channel = self._server._readable(params.get("channel_id"))
        thread_ts = str(params.get("thread_ts") or "")
        if not thread_ts:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: thread_ts")
        self._server._find(channel, thread_ts, "invalid_thread_ts")
        return channel.id, thread_ts

    def _set_session_status(self, params: dict[str, Any]) -> dict[str, Any]:
        from tests.servers.slack_server import SlackError

        status = params.get("status")
        if status not in SESSION_STATUSES:
            raise SlackError("invalid_arguments", f"[ERROR] status must be one of {SESSION_STATUSES}")
        title = params.get("title")
        if title is not None and len(str(title)) > MAX_TITLE_CHARS:
            raise SlackError("invalid_arguments", "[ERROR] title must be at most 200 characters")
        key = self._thread(params)
        session = self.sessions.get(key)
        if session is None:
            initiator = params.get("initiator_user_id")
            session = self.sessions[key] = Session(*key, title=title, initiator=initiator)
        session.statuses.append(str(status))
        answer: dict[str, Any] = {"status": status, "title": session.title}
        if STOP_EVENT not in self.subscribed:
            answer["warning"] = "missing_agent_session_stopped_event_subscription"
        return answer

    def _set_loading(self, params: dict[str, Any]) -> dict[str, Any]:
        from tests.servers.slack_server import SlackError

        if "status" not in params:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: status")
        messages = params.get("loading_messages") or []
        if len(messages) > MAX_LOADING_MESSAGES:
            raise SlackError("invalid_arguments", "[ERROR] at most 10 loading_messages")
        key = self._thread(params)
        session = self.sessions.get(key) or self.sessions.setdefault(key, Session(*key, None, None))
        session.loading.append(str(params["status"]))
        return {}

    def _unfurl(self, params: dict[str, Any]) -> dict[str, Any]:
        from tests.servers.slack_server import SlackError

        self.unfurl_calls.append(params)
        unfurls = params.get("unfurls")
        if isinstance(unfurls, str):
            try:
                unfurls = json.loads(unfurls)
            except ValueError:
                raise SlackError("invalid_unfurls_format") from None
        if not isinstance(unfurls, dict) or not unfurls:
            raise SlackError("invalid_unfurls_format")
        if params.get("unfurl_id") and params.get("source"):
            key = (str(params["source"]), str(params["unfurl_id"]))
            text = None
        else:
            if not params.get("channel") or not params.get("ts"):
                raise SlackError("invalid_arguments", "[ERROR] channel and ts, or unfurl_id and source")
            try:
                channel = self._server._readable(params["channel"])
            except SlackError:
                raise SlackError("cannot_find_channel") from None
            message = self._server._find(channel, params["ts"], "cannot_find_message")
            key, text = (channel.id, message.ts), message.text
        for url, attachment in unfurls.items():
            if text is not None and url not in text:
                raise SlackError("cannot_unfurl_url")
            if not isinstance(attachment, dict) or not (attachment.get("blocks") or attachment.get("text")):
                raise SlackError("invalid_unfurls_format")
        self.unfurls[key] = unfurls
        return {}


def session_stopped_event(channel: str, thread_ts: str, user: str, event_ts: str) -> dict[str, Any]:
    """The `agent_session_stopped` event Slack sends when someone presses the session's stop button."""
    return {"type": STOP_EVENT, "channel": channel, "thread_ts": thread_ts, "user": user,
            "streaming_message_ts": [], "event_ts": event_ts}  # fmt: skip


def link_shared_event(
    channel: str, user: str, message_ts: str, urls: list[str], *, thread_ts: str | None = None
) -> dict[str, Any]:
    """The `link_shared` event for a posted message (source conversations_history)."""
    from urllib.parse import urlsplit

    event: dict[str, Any] = {
        "type": "link_shared", "channel": channel, "is_bot_user_member": True, "user": user,
        "message_ts": message_ts, "source": "conversations_history", "event_ts": message_ts,
        "unfurl_id": f"{channel}.{message_ts}.unfurl",
        "links": [{"domain": urlsplit(url).hostname or "", "url": url} for url in urls],
    }  # fmt: skip
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event
