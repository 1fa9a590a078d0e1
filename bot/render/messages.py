"""What the bot's Slack messages are built of: the message shape, status emoji and labels, prompt
excerpts, links and link buttons for a run and its pull requests; pure functions, no I/O.

The messages themselves: bot.render.status_card (queued, starting, the run's card),
bot.render.results (the finished run's result and DMs), bot.render.command_replies (help, list, status)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from bot.render.cards import OPEN_PR_PREFIX, OPEN_RUN
from bot.render.limits import (
    ACTIONS_ELEMENTS_MAX,
    BLOCKS_TEXT_BUDGET,
    BUTTON_TEXT_MAX,
    BUTTON_URL_MAX,
    CONTEXT_ELEMENTS_MAX,
    MESSAGE_TEXT_MAX,
    blocks_text_length,
    truncate,
)
from bot.render.mrkdwn import escape_mrkdwn, slack_link
from storage.records import PullRequest, RunRecord

RECEIVED_REACTION = "eyes"
PROMPT_EXCERPT_CHARS = 200

WAITING_STATUSES = frozenset({"PENDING", "QUEUED"})
SUCCEEDED_STATUSES = frozenset({"COMPLETE"})
FAILED_STATUSES = frozenset({"FAILED", "ERROR"})
CANCELLED_STATUSES = frozenset({"CANCELLED", "STOPPED"})
_STATUS_SIGNS = (  # statuses, their emoji in text, their reaction on the thread root
    (WAITING_STATUSES, "⏳", "hourglass_flowing_sand"),
    (SUCCEEDED_STATUSES, "✅", "white_check_mark"),
    (FAILED_STATUSES, "❌", "x"),
    (CANCELLED_STATUSES, "🚫", "no_entry_sign"),
)
_RUNNING_SIGNS = ("🔄", "hourglass_flowing_sand")
_STATUS_LABEL_CHARS = 40
_OPTION_CHARS = 100
_UNLINKED_URL_CHARS = 100
_PR_TITLE_CHARS = 256  # GitHub's own limit for a pull request title
_ACTIONS_BLOCK_CHARS = BLOCKS_TEXT_BUDGET // 2
# C0 and C1 controls but whitespace, and the bidirectional embeddings, overrides and isolates.
_UNSHOWN_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_KEPT_MEMBER_RE = re.compile(r"&lt;@([UW][A-Z0-9]+)(?:\|[^&<>]*)?&gt;")


@dataclass
class SlackMessage:
    """What chat.postMessage / chat.update get: fallback text, blocks, message metadata, and
    attachments (where Slack takes a `table` block)."""

    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] | None = None


def status_emoji(status: str) -> str:
    """⏳ waiting, ✅ complete, ❌ failed, 🚫 cancelled, 🔄 running (and any unknown status)."""
    return _signs(status)[0]


def reaction_for(status: str) -> str:
    """Emoji name for the thread root: finished runs get ✅/❌/🚫, others an hourglass."""
    return _signs(status)[1]


def _signs(status: str) -> tuple[str, str]:
    """The status's emoji in text and its reaction's name; a running (or unknown) one's by default."""
    upper = status.upper()
    found = ((emoji, reaction) for statuses, emoji, reaction in _STATUS_SIGNS if upper in statuses)
    return next(found, _RUNNING_SIGNS)


def format_duration(seconds: float) -> str:
    """Like "45s", "2m 14s", "3h 5m", "2d 4h"."""
    total = int(max(0.0, seconds))
    minutes, secs = divmod(total, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d {hrs}h"
    if hours:
        return f"{hours}h {mins}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def error_text(message: str) -> str:
    """An ephemeral error; `message` is plain text and gets escaped."""
    return truncate(f":warning: {escape_mrkdwn(message)}", MESSAGE_TEXT_MAX)


def status_name(status: str) -> str:
    """The status as Codegen sends it, shortened; "UNKNOWN" when blank."""
    return truncate(status.strip() or "UNKNOWN", _STATUS_LABEL_CHARS)


def status_label(status: str) -> str:
    """The status for mrkdwn."""
    return escape_mrkdwn(status_name(status))


def elapsed_text(run: RunRecord, now: float) -> str | None:
    """Time from creation to now, or to the finish; None when the creation time is unknown."""
    if run.created_at <= 0:
        return None
    end = run.finished_at if run.finished and run.finished_at else now
    return format_duration(end - run.created_at)


def prompt_excerpt(prompt: str, limit: int = PROMPT_EXCERPT_CHARS) -> str:
    """A prompt as one short mrkdwn line; the members it mentions (kept as `<@U…>`) stay mentions.
    Control characters and bidirectional overrides (which would reorder the rest of the card) go."""
    shown = _UNSHOWN_RE.sub("", prompt)
    return _KEPT_MEMBER_RE.sub(r"<@\1>", escape_mrkdwn(truncate(" ".join(shown.split()), limit)))


def mention(user: str) -> str:
    return f"<@{user}>" if user else "someone"


def run_link(run: RunRecord, name: str = "") -> str:
    """`name` (default "Run #id") linked to the run in Codegen when it has a usable URL."""
    name = name or f"Run #{run.run_id}"
    if linkable(run.web_url):
        return slack_link(run.web_url, name)
    return name


def option_texts(repo: str | None, model: str | None) -> list[str]:
    texts = []
    if repo:
        texts.append(f"Repo: {escape_mrkdwn(truncate(repo, _OPTION_CHARS))}")
    if model:
        texts.append(f"Model: {escape_mrkdwn(truncate(model, _OPTION_CHARS))}")
    return texts


def section_block(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context_block(texts: list[str]) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": text} for text in texts[:CONTEXT_ELEMENTS_MAX]]
    return {"type": "context", "elements": elements}


def message_metadata(event_type: str, **payload: Any) -> dict[str, Any]:
    """Message metadata; a status (any string Codegen sends) is kept as far as labels show it."""
    if isinstance(payload.get("status"), str):
        payload["status"] = payload["status"][:_STATUS_LABEL_CHARS]
    return {"event_type": event_type, "event_payload": payload}


def pr_title(pr: PullRequest, index: int) -> str:
    """The PR's title on one line; "Pull request N" (N: its place in the run's list) when it has none."""
    return " ".join((pr.title or "").split()) or f"Pull request {index + 1}"


def pr_line(pr: PullRequest, index: int) -> str:
    """A pull request as a line of mrkdwn: a link when Slack can take the URL."""
    title = escape_mrkdwn(truncate(pr_title(pr, index), _PR_TITLE_CHARS))
    if linkable(pr.url):
        return f"• {slack_link(pr.url, title)}"
    if pr.url:
        return f"• {title} — {escape_mrkdwn(truncate(pr.url, _UNLINKED_URL_CHARS))}"
    return f"• {title}"


def linkable(url: str | None) -> TypeGuard[str]:
    """Whether Slack takes `url` for a link button (and so for a link)."""
    return url is not None and url.startswith(("https://", "http://")) and len(url) <= BUTTON_URL_MAX


def link_buttons(run: RunRecord) -> tuple[list[dict[str, Any]], list[str]]:
    """Link buttons for the run and its pull requests, and text lines for those that can't be."""
    buttons = []
    if linkable(run.web_url):
        buttons.append(_button("Open in Codegen", run.web_url, OPEN_RUN))
    unlinked = []
    for index, pr in enumerate(run.pull_requests):
        if linkable(pr.url):
            buttons.append(_button(pr_title(pr, index), pr.url, f"{OPEN_PR_PREFIX}{index}"))
        else:
            unlinked.append(pr_line(pr, index))
    return buttons, unlinked


def _button(text: str, url: str, action_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_MAX), "emoji": True},
        "url": url,
        "action_id": action_id,
    }


def action_blocks(buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Buttons in actions blocks of at most 25, each small enough to share a message."""
    blocks: list[dict[str, Any]] = []
    for button in buttons:
        last = blocks[-1]["elements"] if blocks else None
        if (
            last is None
            or len(last) >= ACTIONS_ELEMENTS_MAX
            or blocks_text_length([*last, button]) > _ACTIONS_BLOCK_CHARS
        ):
            blocks.append({"type": "actions", "elements": [button]})
        else:
            last.append(button)
    return blocks
