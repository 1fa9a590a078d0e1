"""The shape of the request bodies Slack sends, checked before Bolt and the handlers read them.

A request whose fields have other types than Slack's, or that lacks a field Slack always sends
with its kind of request, is refused with 400 instead of failing inside a listener (a 500).
"""

from __future__ import annotations

from typing import Any

_EACH = {"[]": (list, iter), "{}": (dict, dict.values)}  # path suffixes: each item, each value

# Fields with the type Slack gives them, wherever they appear (paths are dotted; "[]" is each item
# of a list, "{}" each value of an object).
TYPES: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "token": str,
    "team_id": str,
    "api_app_id": str,
    "event_id": str,
    "trigger_id": str,
    "callback_id": str,
    "command": str,
    "text": str,
    "user_id": str,
    "channel_id": str,
    "response_url": str,
    "challenge": str,
    "user": dict,
    "user.id": str,
    "channel": dict,
    "channel.id": str,
    "team": (dict, str),
    "enterprise": (dict, str, type(None)),
    "container": dict,
    "authorizations": list,
    "authorizations[]": dict,
    "actions": list,
    "actions[]": dict,
    "actions[].action_id": str,
    "actions[].value": str,
    "message": dict,
    "message.ts": str,
    "message.thread_ts": str,
    "message.text": str,
    "view": dict,
    "view.id": str,
    "view.type": str,
    "view.callback_id": str,
    "view.private_metadata": str,
    "view.state": dict,
    "view.state.values": dict,
    "view.state.values{}": dict,
    "view.state.values{}{}": dict,
    "event": dict,
    "event.type": str,
}
# Fields of message events (messages and mentions), which is what the bot listens to.
MESSAGE_EVENT_TYPES: dict[str, type | tuple[type, ...]] = {
    "event.channel": str,
    "event.user": str,
    "event.ts": str,
    "event.thread_ts": str,
    "event.text": str,
    "event.subtype": str,
    "event.channel_type": str,
    "event.bot_id": str,
    "event.files": list,
    "event.files[]": dict,
    "event.message": dict,
    "event.previous_message": dict,
}
# Fields Slack always sends with each kind of request (a slash command is the form with `command`).
REQUIRED: dict[str, tuple[str, ...]] = {
    "command": ("command", "user_id", "channel_id"),  # `text` is empty for a bare /codegen
    "event_callback": ("event", "event.type"),
    "url_verification": ("challenge",),
    "block_actions": ("user.id", "actions", "actions[].action_id", "trigger_id"),
    "view_submission": ("user.id", "view.id", "view.type", "view.callback_id", "view.state.values"),
    "shortcut": ("user.id", "trigger_id", "callback_id"),
    "message_action": ("user.id", "trigger_id", "callback_id", "channel.id", "message.ts"),
}
MESSAGE_EVENT_REQUIRED = ("event.channel", "event.ts")


class MalformedRequest(ValueError):
    """The body is not a request Slack would send."""


def check_shape(body: dict[str, Any]) -> None:
    """Raise MalformedRequest unless `body` has Slack's types and the fields its kind requires."""
    _check_types(body, TYPES)
    kind = "command" if "command" in body else body.get("type")
    required = list(REQUIRED.get(str(kind), ()))
    event = body.get("event") or {}  # a dict when present: the types were checked above
    if kind == "event_callback" and event.get("type") in ("message", "app_mention"):
        _check_types(body, MESSAGE_EVENT_TYPES)
        required += MESSAGE_EVENT_REQUIRED
    for path in required:
        if not [value for value in _values(body, path) if value not in (None, "", [])]:
            raise MalformedRequest(f"{kind} request without {path}")


def _check_types(body: dict[str, Any], types: dict[str, type | tuple[type, ...]]) -> None:
    for path, expected in types.items():
        for value in _values(body, path):
            if not isinstance(value, expected):
                raise MalformedRequest(f"{path} is a {type(value).__name__}")


def _values(node: Any, path: str) -> list[Any]:
    """The values at `path` under `node` (none when absent, several under "[]" and "{}")."""
    found = [node]
    for part in path.split("."):
        name = part.rstrip("[]{}")
        found = [item[name] for item in found if isinstance(item, dict) and name in item]
        for at in range(len(name), len(part), 2):
            kind, items = _EACH[part[at : at + 2]]
            found = [inner for value in found if isinstance(value, kind) for inner in items(value)]
    return found
