"""Modals: start a run (prompt, repository, model) and send a run a follow-up; pure view builders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.prompts import CONTEXT_CHAR_CAP
from bot.render.limits import truncate
from bot.render.messages import prompt_excerpt
from bot.render.mrkdwn import escape_mrkdwn
from storage.records import RunRecord

RUN_MODAL = "codegen_run"
FOLLOW_UP_MODAL = "codegen_follow_up"
PROMPT_BLOCK, PROMPT_INPUT = "prompt", "prompt_input"
REPO_BLOCK, REPO_SELECT = "repo", "repo_select"
MODEL_BLOCK, MODEL_INPUT = "model", "model_input"
AGENT_BLOCK, AGENT_SELECT = "agent", "agent_select"
AGENT_CHOICES = {"codegen": "Codegen", "claude_code": "Claude Code"}  # Codegen's `agent_type` values
INPUT_TEXT_MAX = 3_000  # plain_text_input max_length
MODEL_NAME_MAX = 100
OPTIONS_MAX = 100  # an external_select's options per answer
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
THREAD_NOTE = (
    f"The message's thread goes to the agent as context (its latest messages, up to {CONTEXT_CHAR_CAP:,} "
    "characters), and the run replies in that thread."
)
ATTACHED_INSTRUCTION = "Help with the attached message."


def run_modal(
    *,
    metadata: str,
    repo: str | None = None,
    model: str | None = None,
    note: str = "",
    attached: int | None = None,
    agent_type: str | None = None,
    max_repos: int = 20,
) -> dict[str, Any]:
    """The "Start a Codegen run" modal, with defaults (`agent_type`: `codegen` or `claude_code`);
    `metadata` comes back on submission. Up to `max_repos` repositories may be picked: one run each.
    With `attached` (the characters of a message sent along whole, not through the form) the prompt is
    the instruction for that message and may be left empty."""
    placeholder = "Find the cause and fix it" if attached is not None else "Fix the flaky login test"
    prompt_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": PROMPT_INPUT,
        "multiline": True,
        "max_length": INPUT_TEXT_MAX,
        "placeholder": _plain(placeholder),
    }
    repo_select: dict[str, Any] = {
        "type": "multi_external_select",
        "action_id": REPO_SELECT,
        "min_query_length": 0,
        "max_selected_items": max_repos,
        "placeholder": _plain("Codegen's default repository"),
    }
    if repo:
        repo_select["initial_options"] = [repo_option(repo)]
    model_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": MODEL_INPUT,
        "max_length": MODEL_NAME_MAX,
        "placeholder": _plain("Codegen's default model"),
    }
    if model:
        model_input["initial_value"] = truncate(model, MODEL_NAME_MAX, marker="")
    agent_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": AGENT_SELECT,
        "placeholder": _plain("The organization's default agent"),
        "options": [_option(name, value) for value, name in AGENT_CHOICES.items()],
    }
    if agent_type in AGENT_CHOICES:
        agent_select["initial_option"] = _option(AGENT_CHOICES[agent_type], agent_type)
    label = "What should the agent do with it?" if attached is not None else "What should the agent do?"
    blocks = [
        _input(PROMPT_BLOCK, label, prompt_input, optional=attached is not None),
        _input(REPO_BLOCK, "Repositories (one run each)", repo_select, optional=True),
        _input(MODEL_BLOCK, "Model", model_input, optional=True),
        _input(AGENT_BLOCK, "Agent", agent_select, optional=True),
    ]
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(note)}]})
    return _modal(RUN_MODAL, "Start a Codegen run", "Start", metadata, blocks)


def attached_note(chars: int, cap: int) -> str:
    """What the form says about a message sent along with the run (`chars` long, prompt limit `cap`)."""
    if chars <= 0:
        return "The message has no text; its thread and files still go to the agent."
    if chars <= cap:
        return f"📎 The message ({chars:,} characters) is attached in full, after your instruction."
    return (
        f"📎 The message is {chars:,} characters, over the {cap:,}-character prompt limit: the agent gets "
        f"its first {cap:,} characters less the length of your instruction, and is told what was left out."
    )


def follow_up_modal(run: RunRecord) -> dict[str, Any]:
    """The "Follow up" modal: its text goes to the run as a resume prompt."""
    excerpt = prompt_excerpt(run.prompt)
    intro = (
        f"Send run #{run.run_id} a follow-up. It was asked:\n> {excerpt}"
        if excerpt
        else (f"Send run #{run.run_id} a follow-up.")
    )
    prompt_input = {
        "type": "plain_text_input",
        "action_id": PROMPT_INPUT,
        "multiline": True,
        "max_length": INPUT_TEXT_MAX,
        "placeholder": _plain("Also update the README"),
    }
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": intro}},
        _input(PROMPT_BLOCK, "Your follow-up", prompt_input),
    ]
    return _modal(FOLLOW_UP_MODAL, "Follow up", "Send", str(run.run_id), blocks)


def repo_option(full_name: str) -> dict[str, Any]:
    """A select option for a repository."""
    return {"text": _plain(truncate(full_name, OPTION_TEXT_MAX)), "value": full_name[:OPTION_VALUE_MAX]}


def repo_options(full_names: Iterable[str], query: str) -> list[dict[str, Any]]:
    """Options for a repository select: names containing `query`, those starting with it first (a
    blank name, which Slack can't show as an option, is left out)."""
    wanted = query.strip().lower()
    matches = [name for name in full_names if name.strip() and wanted in name.lower()]
    matches.sort(key=lambda name: (not name.lower().startswith(wanted), name.lower()))
    return [repo_option(name) for name in matches[:OPTIONS_MAX]]


def _modal(callback_id: str, title: str, submit: str, metadata: str, blocks: list[dict[str, Any]]) -> dict:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}
