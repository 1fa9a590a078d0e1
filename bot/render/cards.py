"""The interactive parts of a run's status card: its live progress line and its buttons; pure functions."""

from __future__ import annotations

from typing import Any

from bot.render.limits import BUTTON_TEXT_MAX, truncate
from bot.render.mrkdwn import escape_mrkdwn
from storage.records import RunRecord

OPEN_RUN = "open_run"
OPEN_PR_PREFIX = "open_pr_"
SHOW_STEPS = "show_steps"
FOLLOW_UP = "follow_up"
RETRY = "retry_run"
CONTROLS_BLOCK = "run_controls"
RETRYABLE_STATUSES = frozenset({"FAILED", "ERROR"})
FOLLOW_UP_EXCERPT_CHARS = 500
STEP_CHARS = 120  # a step as the card and "Show steps" show it


def can_retry(run: RunRecord) -> bool:
    """Whether the card offers Retry: the run failed (not when it succeeded or was cancelled)."""
    return run.status.upper() in RETRYABLE_STATUSES


def progress_text(run: RunRecord) -> str | None:
    """mrkdwn for what the agent is doing now and how many steps it took; None before the first step."""
    if run.finished or not run.latest_step:
        return f"{run.step_count} steps" if run.step_count else None
    line = f"⚙️ {escape_mrkdwn(truncate(run.latest_step, STEP_CHARS))}"
    return f"{line} · step {run.step_count}" if run.step_count else line


def control_block(run: RunRecord, more: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The card's action buttons: Show steps, Follow up, (for a failed run) Retry, then `more`."""
    value = str(run.run_id)
    elements = [button("📜 Show steps", SHOW_STEPS, value), button("💬 Follow up", FOLLOW_UP, value)]
    if can_retry(run):
        elements.append(button("🔁 Retry", RETRY, value, style="primary"))
    return {"type": "actions", "block_id": CONTROLS_BLOCK, "elements": [*elements, *(more or [])]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_MAX), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def follow_up_note(user: str, run_id: int, prompt: str) -> str:
    """Posted in the run's thread when someone sends a follow-up from the modal, so the thread shows it."""
    excerpt = escape_mrkdwn(truncate(" ".join(prompt.split()), FOLLOW_UP_EXCERPT_CHARS))
    return f"💬 <@{user}> sent run #{run_id} a follow-up:\n> {excerpt}"
