"""Slack's app manifest format (version 1), as JSON Schema, for the parts a manifest like ours uses.

Written from docs.slack.dev's "App manifest reference" and the published manifest schema: every
object is closed (an unknown or misspelt key is an error, as Slack's own check reports it), with
Slack's limits on names, descriptions, commands, shortcuts, unfurl domains, scopes and events, and
the Work Object entity types `features.rich_previews` may declare.
`features.agent_view` is the agent declaration (an agent's description and the suggested prompts
its DM offers); `features.assistant_view` is its older form.
"""

from __future__ import annotations

from typing import Any

_URL = {"type": "string", "pattern": r"^https?://", "maxLength": 3000}
_NAMES = {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 255}
_ENTITY_TYPES = ("task", "file", "incident", "content_item", "item")  # Work Object entity types
_PROMPTS = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "message"],
        "properties": {
            "title": {"type": "string", "minLength": 1},
            "message": {"type": "string", "minLength": 1},
        },
    },
}


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
    }


MANIFEST_SCHEMA: dict[str, Any] = _closed(
    {
        "_metadata": _closed({"major_version": {"type": "integer"}, "minor_version": {"type": "integer"}}),
        "display_information": _closed(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 35},
                "description": {"type": "string", "minLength": 1, "maxLength": 140},
                "long_description": {"type": "string", "minLength": 175, "maxLength": 4000},
                "background_color": {"type": "string", "pattern": "^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$"},
            },
            ("name",),
        ),
        "features": _closed(
            {
                "app_home": _closed(
                    {
                        "home_tab_enabled": {"type": "boolean"},
                        "messages_tab_enabled": {"type": "boolean"},
                        "messages_tab_read_only_enabled": {"type": "boolean"},
                    }
                ),
                "bot_user": _closed(
                    {
                        "display_name": {"type": "string", "minLength": 1, "maxLength": 80},
                        "always_online": {"type": "boolean"},
                    },
                    ("display_name",),
                ),
                "agent_view": _closed(
                    {"agent_description": {"type": "string", "minLength": 1}, "suggested_prompts": _PROMPTS},
                    ("agent_description",),
                ),
                "assistant_view": _closed(
                    {"assistant_description": {"type": "string"}, "suggested_prompts": _PROMPTS},
                    ("assistant_description",),
                ),
                # Work Object Previews (docs.slack.dev/reference/app-manifest, features.rich_previews).
                "rich_previews": _closed(
                    {
                        "is_active": {"type": "boolean"},
                        "entity_types": {
                            "type": "array",
                            "items": {"enum": [f"slack#/entities/{name}" for name in _ENTITY_TYPES]},
                            "uniqueItems": True,
                        },
                    }
                ),
                "unfurl_domains": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "pattern": r"^(?![.\-])([-a-z0-9.])+([a-z0-9])$",
                        "maxLength": 255,
                    },
                    "minItems": 1,
                    "maxItems": 5,
                    "uniqueItems": True,
                },
                "slash_commands": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": _closed(
                        {
                            "command": {"type": "string", "minLength": 2, "maxLength": 32, "pattern": "^/"},
                            "url": _URL,
                            "description": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "usage_hint": {"type": "string", "minLength": 1, "maxLength": 1000},
                            "should_escape": {"type": "boolean"},
                        },
                        ("command", "description"),
                    ),
                },
                "shortcuts": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 10,
                    "items": _closed(
                        {
                            "name": {"type": "string", "minLength": 1, "maxLength": 24},
                            "type": {"enum": ["message", "global"]},
                            "callback_id": {"type": "string", "minLength": 1, "maxLength": 255},
                            "description": {"type": "string", "minLength": 1, "maxLength": 150},
                        },
                        ("name", "type", "callback_id", "description"),
                    ),
                },
            }
        ),
        "oauth_config": _closed(
            {
                "redirect_urls": {"type": "array", "items": {"type": "string"}},
                "scopes": _closed({"bot": _NAMES, "user": _NAMES}),
                "token_management_enabled": {"type": "boolean"},
            }
        ),
        "settings": _closed(
            {
                "event_subscriptions": _closed(
                    {
                        "request_url": _URL,
                        "bot_events": {**_NAMES, "maxItems": 100, "uniqueItems": True},
                        "user_events": {**_NAMES, "maxItems": 100, "uniqueItems": True},
                    }
                ),
                "interactivity": _closed(
                    {
                        "is_enabled": {"type": "boolean"},
                        "request_url": _URL,
                        "message_menu_options_url": _URL,
                    },
                    ("is_enabled",),
                ),
                "org_deploy_enabled": {"type": "boolean"},
                "socket_mode_enabled": {"type": "boolean"},
                "token_rotation_enabled": {"type": "boolean"},
                "is_hosted": {"type": "boolean"},
            }
        ),
    },
    ("display_information",),
)
