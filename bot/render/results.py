"""A finished run's result in its thread, split over messages within Slack's limits, and the
direct messages a requester gets about it; pure functions, no I/O."""

from __future__ import annotations

import re
from typing import Any

from bot.render.limits import (
    BLOCKS_PER_MESSAGE_MAX,
    BLOCKS_TEXT_BUDGET,
    HEADER_TEXT_MAX,
    MESSAGE_TEXT_MAX,
    SECTION_TEXT_MAX,
    blocks_text_length,
    split_text,
    truncate,
)
from bot.render.markdown import MARKDOWN_TEXT_MAX, markdown_blocks
from bot.render.messages import (
    CANCELLED_STATUSES,
    FAILED_STATUSES,
    SlackMessage,
    action_blocks,
    link_buttons,
    linkable,
    message_metadata,
    prompt_excerpt,
    run_link,
    section_block,
    status_emoji,
    status_label,
    status_name,
)
from bot.render.mrkdwn import escape_mrkdwn, slack_link
from storage.records import RunRecord

RESULT_EVENT = "codegen_run_result"
MAX_RESULT_MESSAGES = 5
_SHORTENED_NOTE = "✂️ Result shortened — see the full result in {link}."


def result_messages(run: RunRecord) -> list[SlackMessage]:
    """The finished run's result, split over as many messages as Slack's limits need (at most
    MAX_RESULT_MESSAGES; longer results end with a note linking to Codegen)."""
    title = f"{status_emoji(run.status)} Run #{run.run_id} finished: {status_name(run.status)}"
    header = {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(title, HEADER_TEXT_MAX), "emoji": True},
    }
    buttons, unlinked = link_buttons(run)
    blocks = [header, *action_blocks(buttons)]
    if unlinked:
        blocks.extend(map(section_block, split_text("\n".join(unlinked), SECTION_TEXT_MAX)))
    blocks.extend(markdown_blocks(_result_body(run), SECTION_TEXT_MAX))
    parts = _pack(blocks)
    if len(parts) > MAX_RESULT_MESSAGES:
        parts = _shorten(parts[:MAX_RESULT_MESSAGES], run)
    return [
        SlackMessage(
            text=truncate(_fallback_text(part) or escape_mrkdwn(title), MESSAGE_TEXT_MAX),
            blocks=[block for block in part if block["type"] != "table"],
            metadata=message_metadata(
                RESULT_EVENT, run_id=run.run_id, status=run.status, part=number, parts=len(parts)
            ),
            attachments=[{"blocks": tables}] if (tables := _tables(part)) else None,
        )
        for number, part in enumerate(parts, start=1)
    ]


def finished_dm(run: RunRecord) -> SlackMessage:
    """The direct message a requester gets when their run in a channel finishes."""
    headline = (
        f"{status_emoji(run.status)} Your Codegen run #{run.run_id} in <#{run.channel}>"
        f" finished: *{status_label(run.status)}*"
    )
    excerpt = prompt_excerpt(run.prompt)
    blocks = [section_block(f"{headline}\n> {excerpt}" if excerpt else headline)]
    buttons, _ = link_buttons(run)
    blocks.extend(action_blocks(buttons)[:1])
    return SlackMessage(
        text=(
            f"{status_emoji(run.status)} Your Codegen run #{run.run_id} finished:"
            f" {status_label(run.status)}"
        ),
        blocks=blocks,
    )


def unreachable_channel_message(run: RunRecord, error: str) -> SlackMessage:
    """The DM a requester gets when the run's channel can't be written (`error`: Slack's error code)."""
    text = (
        f"I couldn't post about Codegen run {run.run_id} in <#{run.channel}> ({escape_mrkdwn(error)})."
        f" It is {status_label(run.status)}."
    )
    if linkable(run.web_url):
        text += f" {slack_link(run.web_url)}"
    return SlackMessage(text=truncate(text, MESSAGE_TEXT_MAX), blocks=[])


def _result_body(run: RunRecord) -> str:
    """The result (or summary) as Markdown, led by a sentence when the run failed or was cancelled."""
    written = ((run.result or "").strip() or (run.summary or "").strip()).strip()
    status = run.status.upper()
    if status in FAILED_STATUSES:
        lead = "The agent run failed."
    elif status in CANCELLED_STATUSES:
        lead = "The agent run was cancelled."
    elif not written:
        lead = "The agent finished without a written result."
    else:
        lead = ""
    return "\n\n".join(text for text in (lead, written) if text)


def _pack(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Fill messages in order, each within the block count, the block text budget and the markdown
    blocks' shared limit; a table ends its message (Slack shows it below the message's blocks)."""
    parts: list[list[dict[str, Any]]] = [[]]
    for block in blocks:
        if parts[-1] and not _fits(parts[-1], block):
            parts.append([])
        parts[-1].append(block)
    return parts


def _fits(part: list[dict[str, Any]], block: dict[str, Any]) -> bool:
    """Whether `block` may join the message `part` within Slack's limits."""
    markdown = sum(len(b["text"]) for b in [*part, block] if b["type"] == "markdown")
    return (
        len(part) < BLOCKS_PER_MESSAGE_MAX
        and blocks_text_length([*part, block]) <= BLOCKS_TEXT_BUDGET
        and markdown <= MARKDOWN_TEXT_MAX
        and not _tables(part)
    )


def _tables(part: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [block for block in part if block["type"] == "table"]


def _shorten(parts: list[list[dict[str, Any]]], run: RunRecord) -> list[list[dict[str, Any]]]:
    """End the last kept message with a note pointing to the full result in Codegen."""
    note_text = _SHORTENED_NOTE.format(link=run_link(run, "Codegen"))
    if len(note_text) > SECTION_TEXT_MAX:
        note_text = _SHORTENED_NOTE.format(link="Codegen")
    note = section_block(note_text)
    last = parts[-1]
    while last and not _fits(last, note):
        last.pop()
    last.append(note)
    return parts


# A backslash before ASCII punctuation: Markdown's escape (CommonMark 2.4), which the markdown block
# reads and plain notification text would show.
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _fallback_text(blocks: list[dict[str, Any]]) -> str:
    """Notification text: the header and section texts of a message."""
    texts = []
    for block in blocks:
        if block["type"] == "header":
            texts.append(escape_mrkdwn(block["text"]["text"]))
        elif block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "markdown":
            texts.append(escape_mrkdwn(_MARKDOWN_ESCAPE.sub(r"\1", block["text"])))
    return "\n".join(texts)
