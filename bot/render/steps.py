"""A run's steps (entries of Codegen's run-logs API) as short lines people can read; pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.codegen import RunLog
from bot.render.cards import STEP_CHARS
from bot.render.limits import MESSAGE_TEXT_MAX, SECTION_TEXT_MAX, truncate
from bot.render.messages import SlackMessage
from bot.render.mrkdwn import escape_mrkdwn

_DETAIL_CHARS = 60
_SHORT_DETAIL_CHARS = 40
_TOOL_CHARS = 30
_MIN_THOUGHT_CHARS = 12
_THOUGHT_SEPARATOR = " — "
_DETAIL_KEYS = (
    "query",
    "pattern",
    "search",
    "path",
    "file_path",
    "filepath",
    "filename",
    "command",
    "title",
    "url",
    "name",
)
# Tool-name words → what the agent is doing (the tool's own name follows in parentheses).
_TOOL_VERBS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"ripgrep", "rg", "search", "grep", "find", "semantic"}), "Searching code"),
    (frozenset({"pr", "pull"}), "Working on a pull request"),
    (frozenset({"commit", "git", "push", "checkout", "branch"}), "Using git"),
    (frozenset({"view", "read", "open", "cat", "reveal"}), "Reading"),
    (frozenset({"list", "ls", "tree", "directory"}), "Listing files"),
    (frozenset({"edit", "replace", "write", "create", "patch", "rename", "move"}), "Editing"),
    (frozenset({"delete", "remove"}), "Deleting"),
    (frozenset({"run", "bash", "shell", "command", "exec", "execute", "terminal", "test"}), "Running"),
    (frozenset({"web", "browse", "fetch", "http"}), "Browsing"),
)
_SEPARATOR_RE = re.compile(r"[^a-z0-9]+")


def describe_step(log: RunLog) -> str | None:
    """A plain-text line for a step, at most STEP_CHARS long; None if it says nothing.

    A tool call reads `verb (tool_name): 'detail' — thought`, like "Searching code (ripgrep_search):
    'getUserData' — Find where the user data is loaded": the tool always named, the agent's thought for
    it kept, shortened to fit."""
    kind = (log.message_type or "").upper()
    thought = " ".join((log.thought or "").split())
    if log.tool_name:
        return _with_thought(_tool_line(log.tool_name, log.tool_input or {}, bool(thought)), thought)
    if kind == "FINAL_ANSWER":
        return _with_thought("Writing the final answer", thought)
    if kind == "ERROR":
        detail = thought or _text(log.observation)
        return truncate(f"Error: {detail}" if detail else "Error", STEP_CHARS)
    if kind == "USER_MESSAGE":
        return "Reading a follow-up"
    if thought:
        return truncate(f"Planning: {thought}", STEP_CHARS)
    return None


def latest_step(logs: Sequence[RunLog]) -> str | None:
    """The description of the newest step that has one (`logs` newest first)."""
    return next((line for line in map(describe_step, logs) if line), None)


def steps_text(run_id: int, logs_newest_first: Sequence[RunLog], total: int) -> str:
    """The reply to "Show steps": the last steps, oldest first, one numbered line each, as mrkdwn."""
    shown = list(reversed(logs_newest_first))
    if not shown:
        return f"Run #{run_id} has no steps yet."
    first = max(1, total - len(shown) + 1)
    lines = [
        f"*Last {len(shown)} of {total} steps of run #{run_id}*"
        if total > len(shown)
        else f"*Steps of run #{run_id}*"
    ]
    for number, log in enumerate(shown, start=first):
        lines.append(f"`{number}` {escape_mrkdwn(describe_step(log) or _kind(log))}")
    return truncate("\n".join(lines), min(SECTION_TEXT_MAX, MESSAGE_TEXT_MAX))


def _tool_line(tool: str, tool_input: dict[str, Any], short: bool) -> str:
    """`verb (tool)` and what the tool worked on (a known input key, else the first text value); the
    detail is kept shorter when a thought follows."""
    words = set(_SEPARATOR_RE.split(tool.lower()))
    verb = next((verb for names, verb in _TOOL_VERBS if words & names), "Using")
    name = truncate(" ".join(tool.split()), _TOOL_CHARS)
    head = f"Using {name}" if verb == "Using" else f"{verb} ({name})"
    keys = [*_DETAIL_KEYS, *tool_input]
    detail = next((_text(tool_input[key]) for key in keys if _text(tool_input.get(key))), "")
    if not detail:
        return head
    return f"{head}: '{truncate(detail, _SHORT_DETAIL_CHARS if short else _DETAIL_CHARS)}'"


def _with_thought(line: str, thought: str) -> str:
    """`line — thought`, the thought shortened so that the whole fits STEP_CHARS."""
    room = STEP_CHARS - len(line) - len(_THOUGHT_SEPARATOR)
    if not thought or room < _MIN_THOUGHT_CHARS:
        return truncate(line, STEP_CHARS)
    return f"{line}{_THOUGHT_SEPARATOR}{truncate(thought, room)}"


def _text(value: Any) -> str:
    """A value as one line of text ("" for nothing or for structures)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return " ".join(str(value).split())
    if isinstance(value, dict):
        return _text(value.get("message") or value.get("error") or "")
    return ""


def _kind(log: RunLog) -> str:
    return (log.message_type or "step").replace("_", " ").lower()


def steps_message(run_id: int, logs_newest_first: Sequence[RunLog], total: int) -> SlackMessage:
    """The thread reply to "Show steps"."""
    text = steps_text(run_id, logs_newest_first, total)
    return SlackMessage(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
