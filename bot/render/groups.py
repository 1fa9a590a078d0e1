"""The parent message of a prompt sent to several repositories, and its summary; pure functions.

The parent message holds a live table, repository · status · PR, as Slack's `table` block
(https://docs.slack.dev/reference/block-kit/blocks/table-block; sent in the message's attachments,
at most 100 rows). The same table as mrkdwn lines is the message's `text`: what notifications show,
and what is posted if Slack ever refuses the table (SlackOut sends plain text then).
"""

from __future__ import annotations

from typing import Any

from bot.render.limits import MESSAGE_TEXT_MAX, SECTION_TEXT_MAX, truncate
from bot.render.messages import SlackMessage, prompt_excerpt, status_emoji
from bot.render.mrkdwn import escape_mrkdwn, slack_link
from storage.records import GroupRow, PromptGroup, RunRecord

GROUP_EVENT = "codegen_prompt_group"
HEADER = ("Repository", "Status", "PR")
_CELL_CHARS = 150


def row_status(row: GroupRow) -> str:
    """A repository's status in words: queued, not started (why), or its run's status."""
    if row.run is not None:
        return f"{status_emoji(row.run.status)} {row.run.status} · run #{row.run.run_id}"
    if row.request_state == "failed":
        return f"❌ Not started: {row.error or 'Codegen refused it'}"
    return "⏳ Queued"


def row_done(row: GroupRow) -> bool:
    """Whether this repository's part is over: its run finished, or it never started."""
    return row.request_state == "failed" or (row.run is not None and row.run.finished)


def group_message(group: PromptGroup, rows: list[GroupRow]) -> SlackMessage:
    """The parent message: the prompt, who asked, and the table of repositories."""
    done = sum(map(row_done, rows))
    head = (
        f"🗂️ *One prompt, {len(rows)} repositories* · {done} of {len(rows)} done · asked by "
        f"<@{group.requester}>\n> {prompt_excerpt(group.prompt)}"
    )
    lines = [
        f"• `{escape_mrkdwn(r.repo)}` · {escape_mrkdwn(row_status(r))} · {_pr_mrkdwn(r.run)}" for r in rows
    ]
    table = {"type": "table", "rows": [[_raw(h) for h in HEADER], *(_table_row(r) for r in rows)]}
    return SlackMessage(
        text=truncate("\n".join([head, *lines]), MESSAGE_TEXT_MAX),
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": truncate(head, SECTION_TEXT_MAX)}}],
        metadata={"event_type": GROUP_EVENT, "event_payload": {"group_id": group.id, "part": "parent"}},
        attachments=[{"blocks": [table]}],
    )


def group_summary(group: PromptGroup, rows: list[GroupRow]) -> SlackMessage:
    """Posted in the parent's thread once every repository is done: how many succeeded, and the PRs."""
    succeeded = [r for r in rows if r.run is not None and r.run.status.upper() == "COMPLETE"]
    prs = [f"• `{escape_mrkdwn(r.repo)}`: {_pr_mrkdwn(r.run)}" for r in rows if r.run and r.run.pull_requests]
    other = len(rows) - len(succeeded)
    text = (
        f"🏁 All {len(rows)} repositories are done: {len(succeeded)} complete"
        + (f", {other} failed, cancelled or not started" if other else "")
        + (f", {len(prs)} with a pull request." if prs else ", no pull requests.")
    )
    text = truncate("\n".join([text, *prs]), SECTION_TEXT_MAX)
    return SlackMessage(
        text=text,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        metadata={"event_type": GROUP_EVENT, "event_payload": {"group_id": group.id, "part": "summary"}},
    )


def _table_row(row: GroupRow) -> list[dict[str, Any]]:
    return [_raw(row.repo), _raw(row_status(row)), _pr_cell(row.run)]


def _raw(text: str) -> dict[str, Any]:
    return {"type": "raw_text", "text": truncate(text, _CELL_CHARS) or "—"}


def _pr_cell(run: RunRecord | None) -> dict[str, Any]:
    """The run's pull requests as links (a rich_text cell), or a dash."""
    prs = [pr for pr in (run.pull_requests if run else ()) if pr.url and pr.url.startswith("https://")]
    if not prs:
        return _raw("—")
    elements: list[dict[str, Any]] = []
    for index, pr in enumerate(prs):
        if index:
            elements.append({"type": "text", "text": ", "})
        elements.append(
            {"type": "link", "url": pr.url, "text": truncate(pr.title or f"PR {index + 1}", _CELL_CHARS)}
        )
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}


def _pr_mrkdwn(run: RunRecord | None) -> str:
    prs = [pr for pr in (run.pull_requests if run else ()) if pr.url and pr.url.startswith("https://")]
    if not prs:
        return "—"
    return ", ".join(slack_link(pr.url, escape_mrkdwn(truncate(pr.title or "PR", _CELL_CHARS))) for pr in prs)
