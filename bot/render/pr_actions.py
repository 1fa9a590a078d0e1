"""The pull-request actions of a finished run: one line and one row of buttons per PR; pure functions.

`pr_action_blocks(run, states)` is what a card, `/codegen pr` and any other message that offers a
run's PR actions show. A button's value is `<run id>:<pr id>`; its action id names the action
(see ACTIONS). Close and Stop Codegen ask for a confirmation in Slack first (the `confirm` object).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.render.limits import BUTTON_TEXT_MAX, SECTION_TEXT_MAX, truncate
from bot.render.mrkdwn import escape_mrkdwn, slack_link
from storage.records import PRStatus, PullRequest, RunRecord

PR_ACTION_PREFIX = "pr_"
PR_BLOCK_PREFIX = "pr_actions_"
MAX_PRS_WITH_ACTIONS = 5  # two blocks each, of a card's 50
_TITLE_CHARS = 150


@dataclass(frozen=True)
class PRAction:
    """One action on a PR: the Codegen call (a PR `state`, or a flag call on the run), its button,
    and the words for it (`{pr}` stands for the PR's name)."""

    action_id: str
    button: str
    verb: str  # what was asked, with `{pr}`: "close {pr}"
    done: str  # what was done: "closed {pr}"
    state: Literal["open", "closed", "draft", "ready_for_review"] | None = None
    flag_call: Literal["remove-from-pr", "ban", "unban"] | None = None
    style: str | None = None
    confirm: tuple[str, str] | None = None  # (dialog title, question)


ACTIONS: dict[str, PRAction] = {
    a.action_id: a
    for a in (
        PRAction("pr_ready", "✅ Ready for review", "mark {pr} ready for review",
                 "marked {pr} ready for review", state="ready_for_review", style="primary"),
        PRAction("pr_draft", "📝 Back to draft", "turn {pr} back into a draft",
                 "turned {pr} back into a draft", state="draft"),
        PRAction("pr_close", "Close", "close {pr}", "closed {pr}", state="closed", style="danger",
                 confirm=("Close this pull request?", "It is closed on GitHub; you can reopen it later.")),
        PRAction("pr_reopen", "Reopen", "reopen {pr}", "reopened {pr}", state="open"),
        PRAction("pr_remove", "✋ Stop Codegen on this PR", "stop Codegen on {pr}",
                 "stopped Codegen on {pr}", flag_call="remove-from-pr",
                 confirm=("Stop Codegen on this PR?",
                          "Its agents stop, and Codegen no longer acts on the PR's checks.")),
        PRAction("pr_ban", "Stop fixing checks", "stop Codegen fixing the checks of {pr}",
                 "stopped Codegen fixing the checks of {pr}", flag_call="ban"),
        PRAction("pr_unban", "Resume fixing checks", "let Codegen fix the checks of {pr} again",
                 "let Codegen fix the checks of {pr} again", flag_call="unban"),
    )
}  # fmt: skip

STATE_LABELS = {"open": "Open", "closed": "Closed", "draft": "Draft", "ready_for_review": "Ready for review"}


def actionable_prs(run: RunRecord) -> list[PullRequest]:
    """The run's pull requests that Codegen gave an id for (only those can be acted on)."""
    return [pr for pr in run.pull_requests if pr.id is not None]


def pr_action_blocks(run: RunRecord, states: Mapping[int, PRStatus]) -> list[dict[str, Any]]:
    """For each PR of `run` (at most MAX_PRS_WITH_ACTIONS): a context line with its title and what is
    known of its state, and its buttons. `states`: `Store.pr_states(run.run_id)`."""
    blocks: list[dict[str, Any]] = []
    prs = actionable_prs(run)
    for index, pr in enumerate(prs[:MAX_PRS_WITH_ACTIONS]):
        assert pr.id is not None
        status = states.get(pr.id)
        texts = [truncate(f"*{pr_name(pr, index)}*{_state_text(status)}", SECTION_TEXT_MAX)]
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": texts[0]}]})
        value = f"{run.run_id}:{pr.id}"
        buttons = [_button(ACTIONS[action_id], value) for action_id in offered(status)]
        blocks.append(
            {"type": "actions", "block_id": f"{PR_BLOCK_PREFIX}{run.run_id}_{pr.id}", "elements": buttons}
        )
    if len(prs) > MAX_PRS_WITH_ACTIONS:
        more = len(prs) - MAX_PRS_WITH_ACTIONS
        text = f"+{more} more pull request{'s' if more > 1 else ''}: act on them in Codegen or on GitHub."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return blocks


def offered(status: PRStatus | None) -> list[str]:
    """The action ids a PR offers, given what is known of it: the states it is not in (a closed PR
    only Reopen), Stop Codegen until it was, and Stop or Resume fixing checks."""
    state = status.state if status else None
    if state == "closed":
        ids = ["pr_reopen"]
    else:
        ids = [a for a, s in (("pr_ready", "ready_for_review"), ("pr_draft", "draft")) if state != s]
        ids.append("pr_close")
    if not (status and status.removed):
        ids.append("pr_remove")
    ids.append("pr_unban" if status and status.checks_stopped else "pr_ban")
    return ids


def pr_name(pr: PullRequest, index: int) -> str:
    """The PR's title (linked when it has a URL), as mrkdwn."""
    title = escape_mrkdwn(
        truncate(" ".join((pr.title or "").split()) or f"Pull request {index + 1}", _TITLE_CHARS)
    )
    return slack_link(pr.url, title) if pr.url and pr.url.startswith(("https://", "http://")) else title


def _state_text(status: PRStatus | None) -> str:
    if status is None:
        return ""
    parts = [STATE_LABELS.get(status.state, escape_mrkdwn(status.state))] if status.state else []
    if status.removed:
        parts.append("Codegen stopped on it")
    elif status.checks_stopped:
        parts.append("Codegen doesn't fix its checks")
    by = f" (by <@{status.changed_by}>)" if status.changed_by else ""
    return f" · {' · '.join(parts)}{by}" if parts else ""


def _button(action: PRAction, value: str) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(action.button, BUTTON_TEXT_MAX), "emoji": True},
        "action_id": action.action_id,
        "value": value,
    }
    if action.style:
        button["style"] = action.style
    if action.confirm:
        title, question = action.confirm
        button["confirm"] = {
            "title": {"type": "plain_text", "text": title},
            "text": {"type": "plain_text", "text": question},
            "confirm": {"type": "plain_text", "text": "Yes"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
        if action.style == "danger":
            button["confirm"]["style"] = "danger"
    return button
