"""Slack's interactive payloads (buttons, modals, menus, shortcuts), sent to the app as Slack sends them:
form-encoded `payload=<json>`, signed. The shapes follow Slack's documented payloads."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.harness import AppUnderTest
from tests.servers.slack_server import WORKSPACE

TEAM = {"id": WORKSPACE, "domain": "codegen-test"}


def interact(app: AppUnderTest, payload: dict[str, Any], *, team: str = WORKSPACE) -> httpx.Response:
    """POST one interactive payload to the app, from a person of `team` (its `team` and the
    `user.team_id`, as Slack sends them; another team's id for a Slack Connect partner's member)."""
    user = {"team_id": team, **payload["user"]} if "user" in payload else None
    body = {"token": "legacy", "api_app_id": "A1", "team": {**TEAM, "id": team}, **payload}
    if user:
        body["user"] = user
    return app.post(urlencode({"payload": json.dumps(body)}).encode(), "application/x-www-form-urlencoded")


def click(
    app: AppUnderTest,
    message: dict[str, Any],
    action_id: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    trigger_id: str = "0.0.0",
    team: str = WORKSPACE,
) -> httpx.Response:
    """Click the button `action_id` in a message as the Slack test server stores it."""
    button = next(
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )
    action = {**button, "block_id": "b", "action_ts": f"{time.time():.6f}"}
    clicked = {key: message[key] for key in ("ts", "thread_ts", "text") if message.get(key)}
    return interact(
        app,
        {
            "type": "block_actions",
            "user": {"id": user},
            "trigger_id": trigger_id,
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
            "channel": {"id": channel},
            "message": clicked,
            "actions": [action],
        },
        team=team,
    )


def home_action(
    app: AppUnderTest, view: dict[str, Any], action: dict[str, Any], user: str = "U0ALICE"
) -> None:
    """Use an element (`action` is what Slack sends for it) in the published Home tab `view`."""
    response = interact(
        app,
        {
            "type": "block_actions",
            "user": {"id": user},
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "trigger_id": "0.0.0",
            "actions": [{"block_id": "b", "action_ts": f"{time.time():.6f}", **action}],
        },
    )
    assert response.status_code == 200


def submit(
    app: AppUnderTest, view: dict[str, Any], values: dict[str, dict[str, Any]], user: str = "U0ALICE"
) -> httpx.Response:
    """Submit a modal the app opened, with `values` as Slack's view.state.values."""
    submitted = {**view, "state": {"values": values}}
    return interact(
        app, {"type": "view_submission", "user": {"id": user}, "view": submitted, "trigger_id": "0.0.0"}
    )


def suggestions(app: AppUnderTest, action_id: str, typed: str, user: str = "U0ALICE") -> list[dict[str, Any]]:
    """The options the app offers in an external select for what the person `typed`."""
    response = interact(
        app,
        {
            "type": "block_suggestion",
            "user": {"id": user},
            "action_id": action_id,
            "block_id": "b",
            "value": typed,
            "container": {"type": "view", "view_id": "V1"},
        },
    )
    assert response.status_code == 200
    return response.json()["options"]


def message_shortcut(
    app: AppUnderTest,
    callback_id: str,
    message: dict[str, Any],
    *,
    trigger_id: str,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    team: str = WORKSPACE,
) -> httpx.Response:
    """Use a message shortcut on `message` (as the Slack test server stores it)."""
    return interact(
        app,
        {
            "type": "message_action",
            "callback_id": callback_id,
            "trigger_id": trigger_id,
            "user": {"id": user},
            "channel": {"id": channel, "name": "general"},
            "message_ts": message["ts"],
            "message": message,
            "response_url": "",
        },
        team=team,
    )
