"""The message that stands for a request in its channel: "queued" while it waits for a slot,
"starting" until the run exists, then the run's status card, edited as the run progresses;
pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.cards import button, control_block, progress_text
from bot.render.controls import CANCEL_REQUEST, control_buttons, control_notes
from bot.render.limits import (
    SECTION_TEXT_MAX,
    truncate,
)
from bot.render.messages import (
    SlackMessage,
    action_blocks,
    context_block,
    elapsed_text,
    format_duration,
    link_buttons,
    mention,
    message_metadata,
    option_texts,
    prompt_excerpt,
    section_block,
    status_emoji,
    status_label,
)
from bot.render.pr_actions import pr_action_blocks
from storage.agent_controls import RunControls
from storage.records import PRStatus, Request, RunRecord

STATUS_EVENT = "codegen_run_status"
REQUEST_EVENT = "codegen_request"
STALE_AFTER_SECONDS = 120.0  # a working run is checked every few seconds; this long means an outage
_CARD_UNLINKED_PRS = 3


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
    headline = f"{status_emoji(run.status)} *Codegen run #{run.run_id}* · {status_label(run.status)}"
    elapsed = elapsed_text(run, now)
    if elapsed:
        headline += f" · {elapsed}"
    blocks = _summary_blocks(headline, run.prompt, run.requester, run.repo, run.model)
    progress = progress_text(run)
    if progress:
        blocks.append(context_block([progress]))
    stale = _stale_note(run, now)
    if stale:
        blocks.append(context_block([stale]))
    buttons, unlinked = link_buttons(run)
    actions = action_blocks(buttons)
    if actions:
        blocks.append(actions[0])
    named = unlinked[:_CARD_UNLINKED_PRS]  # pull requests Slack can't link to, by name
    notes = [truncate("\n".join(named), SECTION_TEXT_MAX)] if named else []
    not_shown = len(buttons) - (len(actions[0]["elements"]) if actions else 0) + len(unlinked) - len(named)
    if not_shown:
        plural = "s" if not_shown > 1 else ""
        notes.append(f"+{not_shown} more pull request{plural} — see them in Codegen.")
    if notes:
        blocks.append(context_block(notes))
    controlled = control_notes(run, controls)
    if controlled:
        blocks.append(context_block(controlled))
    if run.finished or (controls is not None and controls.stop is not None):  # after Stop, too
        blocks.extend(pr_action_blocks(run, pr_states or {}))
    blocks.append(control_block(run, control_buttons(run, controls)))
    return SlackMessage(
        text=f"{status_emoji(run.status)} Codegen run #{run.run_id}: {status_label(run.status)}",
        blocks=blocks,
        metadata=message_metadata(STATUS_EVENT, run_id=run.run_id, status=run.status),
    )


def queued_message(request: Request, position: int, eta_minutes: int) -> SlackMessage:
    """Shown while a request waits for a free slot, with a Cancel button."""
    wait = f"position {position}, starts in about {max(1, eta_minutes)} min"
    message = _request_message(request, f"⏳ *Queued* — {wait}", f"⏳ Queued — {wait}", "queued")
    cancel = button("✖️ Cancel", CANCEL_REQUEST, str(request.id))
    message.blocks.append({"type": "actions", "elements": [cancel]})
    return message


def starting_message(request: Request) -> SlackMessage:
    """Posted before the run exists, then edited into the status message."""
    return _request_message(
        request, "🚀 *Starting a Codegen agent…*", "🚀 Starting a Codegen agent…", "starting"
    )


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


def _summary_blocks(
    headline: str, prompt: str, requester: str, repo: str | None, model: str | None
) -> list[dict[str, Any]]:
    """Headline with the quoted prompt, then who asked and the options."""
    excerpt = prompt_excerpt(prompt)
    text = f"{headline}\n> {excerpt}" if excerpt else headline
    context = [f"Asked by {mention(requester)}", *option_texts(repo, model)]
    return [section_block(text), context_block(context)]


def _request_message(request: Request, headline: str, text: str, state: str) -> SlackMessage:
    blocks = _summary_blocks(
        headline,
        request.prompt,
        request.user,
        _option(request.options, "repo"),
        _option(request.options, "model"),
    )
    metadata = message_metadata(REQUEST_EVENT, request_id=request.id, state=state)
    return SlackMessage(text=text, blocks=blocks, metadata=metadata)


def _option(options: dict[str, Any], key: str) -> str | None:
    value = options.get(key)
    return str(value) if value else None
