"""The bot's Slack messages, built from storage records; pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from bot.render.cards import OPEN_PR_PREFIX, OPEN_RUN, control_block, progress_text
from bot.render.controls import control_buttons, control_notes
from bot.render.limits import (
    ACTIONS_ELEMENTS_MAX,
    BLOCKS_PER_MESSAGE_MAX,
    BLOCKS_TEXT_BUDGET,
    BUTTON_TEXT_MAX,
    BUTTON_URL_MAX,
    CONTEXT_ELEMENTS_MAX,
    HEADER_TEXT_MAX,
    MESSAGE_TEXT_MAX,
    SECTION_TEXT_MAX,
    blocks_text_length,
    split_text,
    truncate,
)
from bot.render.markdown import MARKDOWN_TEXT_MAX, markdown_blocks
from bot.render.mrkdwn import escape_mrkdwn, slack_link
from bot.render.pr_actions import pr_action_blocks
from storage.agent_controls import RunControls
from storage.records import PRStatus, PullRequest, Request, RunRecord

STATUS_EVENT = "codegen_run_status"
RESULT_EVENT = "codegen_run_result"
REQUEST_EVENT = "codegen_request"
RECEIVED_REACTION = "eyes"
PROMPT_EXCERPT_CHARS = 200
MAX_RESULT_MESSAGES = 5
STALE_AFTER_SECONDS = 120.0  # a working run is checked every few seconds; this long means an outage

_WAITING = frozenset({"PENDING", "QUEUED"})
_SUCCEEDED = frozenset({"COMPLETE"})
_FAILED = frozenset({"FAILED", "ERROR"})
_CANCELLED = frozenset({"CANCELLED", "STOPPED"})
_STATUS_LABEL_CHARS = 40
_OPTION_CHARS = 100
_LIST_PROMPT_CHARS = 80
_UNLINKED_URL_CHARS = 100
_PR_TITLE_CHARS = 256  # GitHub's own limit for a pull request title
_CARD_UNLINKED_PRS = 3
_ACTIONS_BLOCK_CHARS = BLOCKS_TEXT_BUDGET // 2
_KEPT_MEMBER_RE = re.compile(r"&lt;@([UW][A-Z0-9]+)(?:\|[^&<>]*)?&gt;")
_SHORTENED_NOTE = "✂️ Result shortened — see the full result in {link}."


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
    upper = status.upper()
    if upper in _WAITING:
        return "⏳"
    if upper in _SUCCEEDED:
        return "✅"
    if upper in _FAILED:
        return "❌"
    if upper in _CANCELLED:
        return "🚫"
    return "🔄"


def reaction_for(status: str) -> str:
    """Emoji name for the thread root: finished runs get ✅/❌/🚫, others an hourglass."""
    upper = status.upper()
    if upper in _SUCCEEDED:
        return "white_check_mark"
    if upper in _FAILED:
        return "x"
    if upper in _CANCELLED:
        return "no_entry_sign"
    return "hourglass_flowing_sand"


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


def status_message(
    run: RunRecord,
    now: float,
    controls: RunControls | None = None,
    pr_states: Mapping[int, PRStatus] | None = None,
) -> SlackMessage:
    """The run's card, edited as the run progresses: status, who asked, what, where, how long, the
    latest step, links to Codegen and the pull requests, and buttons to act on the run; with
    `controls`, also its Stop and muting (bot.render.controls); once it finished, each pull
    request's actions (`pr_states`: what was done to them, by PR id)."""
    headline = f"{status_emoji(run.status)} *Codegen run #{run.run_id}* · {_label(run.status)}"
    elapsed = _elapsed(run, now)
    if elapsed:
        headline += f" · {elapsed}"
    blocks = _summary_blocks(headline, run.prompt, run.requester, run.repo, run.model)
    progress = progress_text(run)
    if progress:
        blocks.append(_context([progress]))
    stale = _stale_note(run, now)
    if stale:
        blocks.append(_context([stale]))
    buttons, unlinked = _buttons(run)
    actions = _action_blocks(buttons)
    if actions:
        blocks.append(actions[0])
    named = unlinked[:_CARD_UNLINKED_PRS]  # pull requests Slack can't link to, by name
    notes = [truncate("\n".join(named), SECTION_TEXT_MAX)] if named else []
    not_shown = len(buttons) - (len(actions[0]["elements"]) if actions else 0) + len(unlinked) - len(named)
    if not_shown:
        plural = "s" if not_shown > 1 else ""
        notes.append(f"+{not_shown} more pull request{plural} — see them in Codegen.")
    if notes:
        blocks.append(_context(notes))
    controlled = control_notes(run, controls)
    if controlled:
        blocks.append(_context(controlled))
    if run.finished or (controls is not None and controls.stop is not None):  # after Stop, too
        blocks.extend(pr_action_blocks(run, pr_states or {}))
    blocks.append(control_block(run, control_buttons(run, controls)))
    return SlackMessage(
        text=f"{status_emoji(run.status)} Codegen run #{run.run_id}: {_label(run.status)}",
        blocks=blocks,
        metadata=_metadata(STATUS_EVENT, run_id=run.run_id, status=run.status),
    )


def queued_message(request: Request, position: int, eta_minutes: int) -> SlackMessage:
    """Shown while a request waits for a free slot."""
    wait = f"position {position}, starts in about {max(1, eta_minutes)} min"
    return _request_message(request, f"⏳ *Queued* — {wait}", f"⏳ Queued — {wait}", "queued")


def starting_message(request: Request) -> SlackMessage:
    """Posted before the run exists, then edited into the status message."""
    return _request_message(
        request, "🚀 *Starting a Codegen agent…*", "🚀 Starting a Codegen agent…", "starting"
    )


def result_messages(run: RunRecord) -> list[SlackMessage]:
    """The finished run's result, split over as many messages as Slack's limits need (at most
    MAX_RESULT_MESSAGES; longer results end with a note linking to Codegen)."""
    title = f"{status_emoji(run.status)} Run #{run.run_id} finished: {_status_name(run.status)}"
    header = {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(title, HEADER_TEXT_MAX), "emoji": True},
    }
    buttons, unlinked = _buttons(run)
    blocks = [header, *_action_blocks(buttons)]
    if unlinked:
        blocks.extend(map(_section, split_text("\n".join(unlinked), SECTION_TEXT_MAX)))
    blocks.extend(markdown_blocks(_result_body(run), SECTION_TEXT_MAX))
    parts = _pack(blocks)
    if len(parts) > MAX_RESULT_MESSAGES:
        parts = _shorten(parts[:MAX_RESULT_MESSAGES], run)
    return [
        SlackMessage(
            text=truncate(_fallback_text(part) or escape_mrkdwn(title), MESSAGE_TEXT_MAX),
            blocks=[block for block in part if block["type"] != "table"],
            metadata=_metadata(
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
        f" finished: *{_label(run.status)}*"
    )
    excerpt = prompt_excerpt(run.prompt)
    blocks = [_section(f"{headline}\n> {excerpt}" if excerpt else headline)]
    buttons, _ = _buttons(run)
    blocks.extend(_action_blocks(buttons)[:1])
    return SlackMessage(
        text=f"{status_emoji(run.status)} Your Codegen run #{run.run_id} finished: {_label(run.status)}",
        blocks=blocks,
    )


def unreachable_channel_message(run: RunRecord, error: str) -> SlackMessage:
    """The DM a requester gets when the run's channel can't be written (`error`: Slack's error code)."""
    text = (
        f"I couldn't post about Codegen run {run.run_id} in <#{run.channel}> ({escape_mrkdwn(error)})."
        f" It is {_label(run.status)}."
    )
    if _linkable(run.web_url):
        text += f" {slack_link(run.web_url)}"
    return SlackMessage(text=truncate(text, MESSAGE_TEXT_MAX), blocks=[])


def error_text(message: str) -> str:
    """An ephemeral error; `message` is plain text and gets escaped."""
    return truncate(f":warning: {escape_mrkdwn(message)}", MESSAGE_TEXT_MAX)


def help_text(trigger_emoji: str = "") -> str:
    """The reply to `/codegen help`; with `trigger_emoji`, how reacting with it starts a run."""
    reaction = (
        f" React to a message with :{trigger_emoji}: to send it to Codegen the same way."
        if trigger_emoji
        else ""
    )
    return "\n".join(
        [
            "*Codegen in Slack* — hand a coding task to a Codegen agent.",
            "• `/codegen &lt;prompt&gt;` — start an agent run. Add `repo=owner/name` to pick the"
            " repository, `model=&lt;name&gt;` to pick the model and `agent=codegen|claude_code` to pick"
            " the agent, anywhere in the prompt.",
            "• `repo=acme/web,acme/api` or `repo=acme/*` — one run per repository, followed in one table.",
            "• `/codegen` alone — the same, in a form.",
            "• `/codegen status [run id]` — how a run is doing.",
            "• `/codegen pr [run id]` — act on a run's pull requests: ready for review, back to draft,"
            " close, reopen, stop Codegen on a PR or stop it fixing the checks.",
            "• `/codegen setup owner/name [hint]` — have Codegen work out a repository's setup commands.",
            "• `/codegen list` — recent runs.",
            "• `/codegen repos` — the organization's repositories.",
            "• `/codegen config` — this channel's default repository and agent, where results are"
            " announced, and your own default agent (`/codegen config my agent claude_code`).",
            "• `/codegen config follow-ups mention` — only replies that mention the bot go to a run"
            " (`all`, the default: every reply but side talk that mentions others).",
            "• `/codegen stop [run id]` — ask a run to stop (the id is optional for your latest run here);"
            " the card's ⏹️ Stop button and Slack's own stop button do the same.",
            "• `/codegen watch add &lt;pattern&gt; [from=&lt;app or bot&gt;] [repo=owner/name]"
            " [prompt=&lt;template&gt;]` — admins: a message matching the pattern (alerts, CI posts)"
            " starts a run in its thread; `/codegen watch list`, `/codegen watch remove &lt;n&gt;`.",
            '• `/codegen schedule add "&lt;cron&gt;" &lt;prompt&gt; [repo=owner/name]` — a recurring'
            " run in this channel, in your time zone; `/codegen schedule list`,"
            " `pause &lt;n&gt;`, `resume &lt;n&gt;`, `remove &lt;n&gt;`.",
            "• `/codegen help` — this message.",
            "You can also mention the bot in a channel, send it a direct message, or use"
            " *Send to Codegen* on any message. Reply in a run's thread to send the agent a follow-up;"
            " say `mute` / `unmute` to the bot there to stop or resume sending replies."
            f" Your runs and defaults are in the bot's Home tab.{reaction}",
        ]
    )


def run_list_text(runs: list[RunRecord], now: float) -> str:
    """The reply to `/codegen list`: one line per run, as many as fit in a message."""
    if not runs:
        return "No Codegen runs yet. Start one with `/codegen &lt;prompt&gt;`."
    lines = ["*Recent Codegen runs*"]
    budget = MESSAGE_TEXT_MAX - 40  # room for the "…and N more" line
    for shown, run in enumerate(runs):
        parts = [f"{status_emoji(run.status)} {_run_link(run)}", _label(run.status)]
        elapsed = _elapsed(run, now)
        if elapsed:
            parts.append(elapsed)
        parts.append(prompt_excerpt(run.prompt, _LIST_PROMPT_CHARS))
        line = "• " + " · ".join(part for part in parts if part)
        if len("\n".join([*lines, line])) > budget:
            lines.append(f"…and {len(runs) - shown} more.")
            break
        lines.append(line)
    return "\n".join(lines)


def run_status_text(run: RunRecord, now: float) -> str:
    """The reply to `/codegen status`."""
    headline = f"{status_emoji(run.status)} *{_run_link(run)}* · {_label(run.status)}"
    elapsed = _elapsed(run, now)
    lines = [f"{headline} · {elapsed}" if elapsed else headline]
    lines.append(f"Asked by {_mention(run.requester)}: {prompt_excerpt(run.prompt)}")
    options = _option_texts(run.repo, run.model)
    if options:
        lines.append(" · ".join(options))
    if run.pull_requests:
        lines.append("Pull requests:")
        lines.extend(_pr_line(pr, index) for index, pr in enumerate(run.pull_requests))
    return truncate("\n".join(lines), MESSAGE_TEXT_MAX)


def _status_name(status: str) -> str:
    """The status as Codegen sends it, shortened; "UNKNOWN" when blank."""
    return truncate(status.strip() or "UNKNOWN", _STATUS_LABEL_CHARS)


def _label(status: str) -> str:
    """The status for mrkdwn."""
    return escape_mrkdwn(_status_name(status))


def _elapsed(run: RunRecord, now: float) -> str | None:
    """Time from creation to now, or to the finish; None when the creation time is unknown."""
    if run.created_at <= 0:
        return None
    end = run.finished_at if run.finished and run.finished_at else now
    return format_duration(end - run.created_at)


def _stale_note(run: RunRecord, now: float) -> str | None:
    """For a working run whose status Codegen has not given for a while (an outage): since when."""
    last = max(run.checked_at, run.created_at)
    if run.finished or last <= 0 or now - last < STALE_AFTER_SECONDS:
        return None
    ago = format_duration(now - last)
    return (
        f"⚠️ Codegen hasn't answered since <!date^{int(last)}^{{time}}|{ago} ago>;"
        " this may be out of date. The bot keeps trying."
    )


def prompt_excerpt(prompt: str, limit: int = PROMPT_EXCERPT_CHARS) -> str:
    """A prompt as one short mrkdwn line; the members it mentions (kept as `<@U…>`) stay mentions."""
    return _KEPT_MEMBER_RE.sub(r"<@\1>", escape_mrkdwn(truncate(" ".join(prompt.split()), limit)))


def _mention(user: str) -> str:
    return f"<@{user}>" if user else "someone"


def _run_link(run: RunRecord, name: str = "") -> str:
    """`name` (default "Run #id") linked to the run in Codegen when it has a usable URL."""
    name = name or f"Run #{run.run_id}"
    if _linkable(run.web_url):
        return slack_link(run.web_url, name)
    return name


def _option_texts(repo: str | None, model: str | None) -> list[str]:
    texts = []
    if repo:
        texts.append(f"Repo: {escape_mrkdwn(truncate(repo, _OPTION_CHARS))}")
    if model:
        texts.append(f"Model: {escape_mrkdwn(truncate(model, _OPTION_CHARS))}")
    return texts


def _summary_blocks(
    headline: str, prompt: str, requester: str, repo: str | None, model: str | None
) -> list[dict[str, Any]]:
    """Headline with the quoted prompt, then who asked and the options."""
    excerpt = prompt_excerpt(prompt)
    text = f"{headline}\n> {excerpt}" if excerpt else headline
    context = [f"Asked by {_mention(requester)}", *_option_texts(repo, model)]
    return [_section(text), _context(context)]


def _request_message(request: Request, headline: str, text: str, state: str) -> SlackMessage:
    blocks = _summary_blocks(
        headline,
        request.prompt,
        request.user,
        _option(request.options, "repo"),
        _option(request.options, "model"),
    )
    metadata = _metadata(REQUEST_EVENT, request_id=request.id, state=state)
    return SlackMessage(text=text, blocks=blocks, metadata=metadata)


def _option(options: dict[str, Any], key: str) -> str | None:
    value = options.get(key)
    return str(value) if value else None


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(texts: list[str]) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": text} for text in texts[:CONTEXT_ELEMENTS_MAX]]
    return {"type": "context", "elements": elements}


def _metadata(event_type: str, **payload: Any) -> dict[str, Any]:
    """Message metadata; a status (any string Codegen sends) is kept as far as labels show it."""
    if isinstance(payload.get("status"), str):
        payload["status"] = payload["status"][:_STATUS_LABEL_CHARS]
    return {"event_type": event_type, "event_payload": payload}


def _pr_title(pr: PullRequest, index: int) -> str:
    """The PR's title on one line; "Pull request N" (N: its place in the run's list) when it has none."""
    return " ".join((pr.title or "").split()) or f"Pull request {index + 1}"


def _pr_line(pr: PullRequest, index: int) -> str:
    """A pull request as a line of mrkdwn: a link when Slack can take the URL."""
    title = escape_mrkdwn(truncate(_pr_title(pr, index), _PR_TITLE_CHARS))
    if _linkable(pr.url):
        return f"• {slack_link(pr.url, title)}"
    if pr.url:
        return f"• {title} — {escape_mrkdwn(truncate(pr.url, _UNLINKED_URL_CHARS))}"
    return f"• {title}"


def _linkable(url: str | None) -> TypeGuard[str]:
    """Whether Slack takes `url` for a link button (and so for a link)."""
    return url is not None and url.startswith(("https://", "http://")) and len(url) <= BUTTON_URL_MAX


def _buttons(run: RunRecord) -> tuple[list[dict[str, Any]], list[str]]:
    """Link buttons for the run and its pull requests, and text lines for those that can't be."""
    buttons = []
    if _linkable(run.web_url):
        buttons.append(_button("Open in Codegen", run.web_url, OPEN_RUN))
    unlinked = []
    for index, pr in enumerate(run.pull_requests):
        if _linkable(pr.url):
            buttons.append(_button(_pr_title(pr, index), pr.url, f"{OPEN_PR_PREFIX}{index}"))
        else:
            unlinked.append(_pr_line(pr, index))
    return buttons, unlinked


def _button(text: str, url: str, action_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_MAX), "emoji": True},
        "url": url,
        "action_id": action_id,
    }


def _action_blocks(buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _result_body(run: RunRecord) -> str:
    """The result (or summary) as Markdown, led by a sentence when the run failed or was cancelled."""
    written = ((run.result or "").strip() or (run.summary or "").strip()).strip()
    status = run.status.upper()
    if status in _FAILED:
        lead = "The agent run failed."
    elif status in _CANCELLED:
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
    note_text = _SHORTENED_NOTE.format(link=_run_link(run, "Codegen"))
    if len(note_text) > SECTION_TEXT_MAX:
        note_text = _SHORTENED_NOTE.format(link="Codegen")
    note = _section(note_text)
    last = parts[-1]
    while last and not _fits(last, note):
        last.pop()
    last.append(note)
    return parts


def _fallback_text(blocks: list[dict[str, Any]]) -> str:
    """Notification text: the header and section texts of a message."""
    texts = []
    for block in blocks:
        if block["type"] == "header":
            texts.append(escape_mrkdwn(block["text"]["text"]))
        elif block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "markdown":
            texts.append(escape_mrkdwn(block["text"]))
    return "\n".join(texts)
