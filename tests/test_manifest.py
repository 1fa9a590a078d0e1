"""manifest.yml asks for exactly the scopes and events the code uses: none missing (a call would fail
with missing_scope), none unused (an admin approving the app should not grant more than it needs)."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.config import Settings
from bot.render.work_objects import TASK
from bot.scopes import BOT_SCOPES, EVENT_SCOPES, METHOD_SCOPES
from tests.slack_manifest_schema import MANIFEST_SCHEMA

REPO = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((REPO / "manifest.yml").read_text())
# Web API method families; not files.*: the bot calls none, and files.slack.com is a host it reads.
FAMILIES = (
    "chat|reactions|conversations|users|views|auth|apps|team|bots|usergroups|pins|bookmarks|agents|assistant"
)


def code() -> str:
    """The bot's source, without the table under test."""
    files = [*(REPO / "bot").rglob("*.py"), *(REPO / "handlers").rglob("*.py")]
    return "\n".join(f.read_text() for f in files if f.name != "scopes.py")


def test_manifest_asks_for_exactly_the_scopes_the_code_needs() -> None:
    requested = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert requested - BOT_SCOPES == set(), "requested but not used"
    assert BOT_SCOPES - requested == set(), "used but not requested"


def test_every_slack_method_the_code_calls_is_in_the_scope_table() -> None:
    source = code()
    quoted = set(re.findall(rf'"((?:{FAMILIES})\.[a-zA-Z.]+)"', source))
    called = {
        f"{family}.{rest.replace('_', '.')}"
        for family, rest in re.findall(rf"\.({FAMILIES})_([a-zA-Z_]+)\(", source)
    }
    assert quoted | called == set(METHOD_SCOPES)


def test_every_event_subscribed_is_handled_and_in_the_scope_table() -> None:
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert subscribed == set(EVENT_SCOPES)
    handled = set(re.findall(r'@app\.event\("([a-z_]+)"\)', code()))
    assert {event.split(".")[0] for event in subscribed} == handled  # message.channels → "message"


def test_files_are_downloaded_with_files_read() -> None:
    assert "url_private" in code() and "files:read" in BOT_SCOPES


def test_every_setting_is_documented() -> None:
    example = (REPO / ".env.example").read_text()
    readme = (REPO / "README.md").read_text()
    for name in (field.upper() for field in Settings.model_fields):
        assert f"\n{name}=" in example, name
        assert f"| `{name}` |" in readme, name


def test_socket_mode_edits_in_the_readme_give_a_manifest_without_urls() -> None:
    text = (REPO / "manifest.yml").read_text()
    kept = [
        line for line in text.splitlines() if "https://YOUR-HOST" not in line or line.lstrip().startswith("#")
    ]
    assert len(text.splitlines()) - len(kept) == 4  # the README says: delete the four lines
    edited = yaml.safe_load(
        "\n".join(kept).replace("socket_mode_enabled: false", "socket_mode_enabled: true")
    )
    assert "YOUR-HOST" not in yaml.safe_dump(edited)
    readme = (REPO / "README.md").read_text()
    shown = yaml.safe_load(readme.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert shown["features"]["slash_commands"] == edited["features"]["slash_commands"]
    for key in ("event_subscriptions", "interactivity", "socket_mode_enabled"):
        assert shown["settings"][key] == edited["settings"][key], key


def test_the_manifest_is_in_slacks_manifest_format() -> None:
    jsonschema.validate(MANIFEST, MANIFEST_SCHEMA)


@pytest.mark.parametrize(
    "broken",
    [
        {"features": {**MANIFEST["features"], "agent_veiw": {"agent_description": "typo"}}},
        {"features": {**MANIFEST["features"], "unfurl_domains": ["https://codegen.com"]}},
        {"features": {**MANIFEST["features"], "rich_previews": {"is_active": True, "entity_types": ["run"]}}},
        {"display_information": {"name": "A name far longer than Slack allows for an app"}},
    ],
)
def test_the_format_check_catches_what_slack_would_refuse(broken: dict) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**MANIFEST, **broken}, MANIFEST_SCHEMA)


def test_the_manifest_declares_an_agent_that_can_be_stopped_and_previews_run_links() -> None:
    assert MANIFEST["features"]["agent_view"]["suggested_prompts"]
    assert "agent_session_stopped" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    default_domain = Settings.model_fields["codegen_slack_unfurl_domain"].default
    assert MANIFEST["features"]["unfurl_domains"] == [default_domain]
    # the Work Object the bot sends with each preview is a Task, which the app must declare
    assert MANIFEST["features"]["rich_previews"] == {"is_active": True, "entity_types": [TASK]}
