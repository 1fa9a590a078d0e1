"""The Slack test server's agent and link methods, as docs.slack.dev describes them:

- `agents.sessions.setStatus` (chat:write; statuses active, processing, suspended, closed; title at
  most 200 characters, used only when the session is made; a `warning` of
  missing_agent_session_stopped_event_subscription while the app does not subscribe to
  `agent_session_stopped`);
- `assistant.threads.setStatus` (chat:write; status text, up to 10 loading_messages; "" clears);
- `chat.unfurl` (links:write; channel and ts, or unfurl_id and source; `unfurls` a JSON map of URLs
  that are in the message, and/or `metadata`, a JSON object whose `entities` are Work Objects with
  an entity_type Slack supports, an entity_payload with a title, an external_ref id, a url and the
  app_unfurl_url posted in the message; a second call for the same message replaces the first);
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
LOADING_TIMEOUT_SECONDS = 120.0  # assistant.threads.setStatus: "A two minute timeout applies"
STOP_EVENT = "agent_session_stopped"
# Work Objects (docs.slack.dev/messaging/work-objects-implementation): the entity types and field types.
ENTITY_TYPES = frozenset(
    f"slack#/entities/{name}" for name in ("task", "file", "incident", "content_item", "item")
)
_SLACK_TYPES = ("user", "channel_id", "timestamp", "date", "image", "entity_ref", "link", "email")
FIELD_TYPES = frozenset(
    ("string", "integer", "boolean", "array", *(f"slack#/types/{t}" for t in _SLACK_TYPES))
)


@dataclass
class Session:
    """One agent session on a thread, with every status it was given, in order."""

    channel: str
    thread_ts: str
    title: str | None
    initiator: str | None
    statuses: list[str] = field(default_factory=list)
    loading: list[str] = field(default_factory=list)  # every assistant.threads.setStatus text ("" clears)
    loading_at: float = 0.0  # when the last one was set (the server's clock)

    def loading_shown(self, now: float) -> str:
        """The loading text Slack shows at `now`: the last one set, until LOADING_TIMEOUT_SECONDS pass
        without another (Slack removes it then, when no message was sent)."""
        last = self.loading[-1] if self.loading else ""
        return last if now - self.loading_at < LOADING_TIMEOUT_SECONDS else ""


class AgentApi:
    """The methods' handlers and what they recorded; `subscribed` are the app's bot events."""

    def __init__(self, server: SlackServer, subscribed: set[str]) -> None:
        self._server = server
        self.subscribed = subscribed
        self.sessions: dict[tuple[str, str], Session] = {}
        self.unfurls: dict[tuple[str, str], dict[str, Any]] = {}
        self.unfurl_calls: list[dict[str, Any]] = []
        self.work_objects: dict[tuple[str, str], list[dict[str, Any]]] = {}  # the entities of each unfurl

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
        session.loading_at = self._server.clock.now()
        return {}

    def _unfurl(self, params: dict[str, Any]) -> dict[str, Any]:
        from tests.servers.slack_server import SlackError

        self.unfurl_calls.append(params)
        if params.get("unfurls") is None and params.get("metadata") is None:
            raise SlackError("missing_unfurls")  # "Either unfurls or metadata must be provided."
        unfurls = _json(params.get("unfurls"), "invalid_unfurls_format")
        if unfurls is not None and (not isinstance(unfurls, dict) or not unfurls):
            raise SlackError("invalid_unfurls_format")
        entities = _entities(_json(params.get("metadata"), "invalid_metadata_format"))
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
        for url, attachment in (unfurls or {}).items():
            if text is not None and url not in text:
                raise SlackError("cannot_unfurl_url")
            if not isinstance(attachment, dict) or not (attachment.get("blocks") or attachment.get("text")):
                raise SlackError("invalid_unfurls_format")
        for entity in entities:
            if text is not None and entity["app_unfurl_url"] not in text:
                raise SlackError("cannot_unfurl_message")  # "the URL provided does not appear in the message"
        self.unfurls[key] = unfurls or {}
        self.work_objects[key] = entities
        return {}


def _json(value: Any, error: str) -> Any:
    """A JSON argument as sent in a form (a string) or in a JSON body (already decoded)."""
    from tests.servers.slack_server import SlackError

    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise SlackError(error) from None


def _entities(metadata: Any) -> list[dict[str, Any]]:
    """The Work Object entities of chat.unfurl's `metadata`: invalid_metadata_format when it is not an
    object with a list of entity objects, error_processing_metadata when an entity lacks what Slack needs."""
    from tests.servers.slack_server import SlackError

    if metadata is None:
        return []
    entities = metadata.get("entities") if isinstance(metadata, dict) else None
    if not isinstance(entities, list) or not entities or not all(isinstance(e, dict) for e in entities):
        raise SlackError("invalid_metadata_format")
    for entity in entities:
        payload, ref = entity.get("entity_payload"), entity.get("external_ref")
        title = ((payload or {}).get("attributes") or {}).get("title") if isinstance(payload, dict) else None
        if (
            entity.get("entity_type") not in ENTITY_TYPES
            or not isinstance(title, dict) or not str(title.get("text") or "").strip()
            or not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]
            or not _is_url(entity.get("url")) or not _is_url(entity.get("app_unfurl_url"))
            or not all(_custom_field_ok(field) for field in payload.get("custom_fields") or [])
        ):  # fmt: skip
            raise SlackError("error_processing_metadata")
    return entities


def _is_url(value: Any) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


def _custom_field_ok(field: Any) -> bool:
    """A custom field has a key, a label, a Slack type and a value (not an image); an array an item_type."""
    return (
        isinstance(field, dict) and bool(field.get("key")) and bool(field.get("label"))
        and field.get("type") in FIELD_TYPES
        and (field.get("value") is not None or field["type"] == "slack#/types/image")
        and (field["type"] != "array" or bool(field.get("item_type")))
    )  # fmt: skip


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
