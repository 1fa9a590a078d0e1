"""The App Home tab: the viewer's runs (working ones first) and their personal defaults; pure."""

from __future__ import annotations

from typing import Any

from bot.render.cards import OPEN_RUN
from bot.render.limits import SECTION_TEXT_MAX, truncate
from bot.render.messages import (
    format_duration,
    linkable,
    pr_line,
    prompt_excerpt,
    run_link,
    section_block,
    status_emoji,
    status_label,
)
from bot.render.modals import MODEL_NAME_MAX, repo_option
from bot.render.mrkdwn import escape_mrkdwn
from storage.records import RunRecord, UserPrefs

HOME_DM_ON_FINISH = "home_dm_on_finish"
HOME_DEFAULT_REPO = "home_default_repo"
HOME_DEFAULT_MODEL = "home_default_model"
HOME_CLEAR_DEFAULTS = "home_clear_defaults"
HOME_RUNS_SHOWN = 20
DM_ON_FINISH_VALUE = "dm_on_finish"
_DM_OPTION = {
    "text": {"type": "mrkdwn", "text": "*DM me* when a run I started in a channel finishes"},
    "value": DM_ON_FINISH_VALUE,
}
_EXCERPT_CHARS = 150


def home_view(runs: list[RunRecord], prefs: UserPrefs, now: float) -> dict[str, Any]:
    """The Home tab for one person: `runs` as storage ordered them, then their defaults."""
    blocks: list[dict[str, Any]] = [_header("Your Codegen runs")]
    if not runs:
        blocks.append(
            section_block(
                "No runs yet. Start one with `/codegen &lt;prompt&gt;`, by mentioning the bot,"
                " or in a direct message to it."
            )
        )
    blocks.extend(_run_block(run, now) for run in runs[:HOME_RUNS_SHOWN])
    blocks.extend([{"type": "divider"}, _header("Your defaults"), *_preference_blocks(prefs)])
    return {"type": "home", "blocks": blocks}


def _run_block(run: RunRecord, now: float) -> dict[str, Any]:
    facts = [f"{status_emoji(run.status)} *{run_link(run)}*", status_label(run.status)]
    if run.repo:
        facts.append(escape_mrkdwn(truncate(run.repo, 100)))
    if run.created_at > 0:
        facts.append(f"started {format_duration(now - run.created_at)} ago")
    lines = [" · ".join(facts)]
    excerpt = prompt_excerpt(run.prompt, _EXCERPT_CHARS)
    if excerpt:
        lines.append(f"> {excerpt}")
    lines.extend(pr_line(pr, index) for index, pr in enumerate(run.pull_requests))
    block = section_block(truncate("\n".join(lines), SECTION_TEXT_MAX))
    if linkable(run.web_url):
        block["accessory"] = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in Codegen", "emoji": True},
            "url": run.web_url,
            "action_id": OPEN_RUN,
        }
    return block


def _preference_blocks(prefs: UserPrefs) -> list[dict[str, Any]]:
    checkboxes: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": HOME_DM_ON_FINISH,
        "options": [_DM_OPTION],
    }
    if prefs.dm_on_finish:
        checkboxes["initial_options"] = [_DM_OPTION]
    repo_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": HOME_DEFAULT_REPO,
        "min_query_length": 0,
        "placeholder": {"type": "plain_text", "text": "Default repository"},
    }
    if prefs.default_repo:
        repo_select["initial_option"] = repo_option(prefs.default_repo)
    elements = [checkboxes, repo_select]
    if prefs.default_repo or prefs.default_model:
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Clear defaults"},
                "action_id": HOME_CLEAR_DEFAULTS,
            }
        )
    model_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": HOME_DEFAULT_MODEL,
        "max_length": MODEL_NAME_MAX,
        "placeholder": {"type": "plain_text", "text": "Codegen's default model"},
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
    }
    if prefs.default_model:
        model_input["initial_value"] = truncate(prefs.default_model, MODEL_NAME_MAX, marker="")
    return [
        {"type": "actions", "block_id": "home_prefs", "elements": elements},
        {
            "type": "input",
            "block_id": "home_model",
            "dispatch_action": True,
            "optional": True,
            "label": {"type": "plain_text", "text": "Default model (press Enter to save)"},
            "element": model_input,
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Your defaults apply when a run names no `repo=` or `model=`;"
                    " a channel's own default repository (`/codegen config`) comes first.",
                }
            ],
        },
    ]


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}
