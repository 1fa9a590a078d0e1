"""Assertions that what the bot would send is something Slack takes: valid blocks within its limits."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.render.messages import SlackMessage


def all_strings(value: Any) -> list[str]:
    """Every string inside `value` (dicts and lists, at any depth)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


def assert_slack_accepts(message: SlackMessage) -> None:
    """Every block is valid for slack_sdk's models, and the message is within Slack's limits."""
    json.dumps(message.metadata)
    assert 1 <= len(message.text) <= 3_900
    assert 1 <= len(message.blocks) <= 50 or (not message.blocks and message.attachments)
    assert sum(map(len, all_strings(message.blocks))) <= 12_000
    for block in message.blocks:
        assert Block.parse(block).to_dict() == block
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"].strip()) <= 3_000
            assert block["text"]["text"].count("```") % 2 == 0
        if block["type"] == "actions":
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= 75
                assert len(button.get("url", "")) <= 3_000
        assert block["type"] != "table"  # tables go in the attachments
    assert sum(len(b["text"]) for b in message.blocks if b["type"] == "markdown") <= 12_000
    tables = [b for a in message.attachments or [] for b in a["blocks"]]
    assert len(tables) <= 1
    for table in tables:
        assert Block.parse(table).to_dict() == table
        assert len(table["rows"]) <= 100 and all(len(row) <= 20 for row in table["rows"])


def assert_text_fits(text: str) -> None:
    """A plain mrkdwn reply (ephemeral, DM or response_url): not blank, within one readable message."""
    assert len(text.strip()) > 0 and len(text) <= 3_900


def assert_view_accepts(view: dict[str, Any]) -> None:
    """A Home tab or modal that views.publish / views.open takes."""
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100
    for block in view["blocks"]:
        assert len(block.get("text", {}).get("text", "")) <= 3_000
