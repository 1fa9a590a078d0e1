"""What a run's card and replies say about muting and Stop, and the buttons for them; pure functions.

Codegen's API has no call that cancels a run, so Stop sends the run one follow-up (STOP_PROMPT); the
texts here say exactly that, and when it was (or will be) delivered.
"""

from __future__ import annotations

from typing import Any

from bot.render.cards import button
from storage.agent_controls import RunControls, StopRecord
from storage.records import RunRecord

STOP = "stop_run"
CANCEL_REQUEST = "cancel_request"  # on a queued request's message: withdraw it before its run is made
MUTE = "mute_follow_ups"
UNMUTE = "unmute_follow_ups"
STOP_PROMPT = (
    "Stop work now. Make no further changes: do not edit files, commit, push, or open or update pull "
    "requests. Reply only with a short summary of where you stopped."
)
NO_CANCEL = "Codegen has no call that cancels a run"
PR_ACTIONS_NOTE = "Pull-request actions (stop Codegen on the PR, stop fixing checks) are on this card."
ONLY_REQUESTER = "Only {requester}, who started run #{run_id}, or one of the bot's admins can stop it."
ONLY_REQUESTER_CANCEL = "Only {requester}, who asked for it, or one of the bot's admins can cancel it."
CANCELLED = "🚫 Cancelled by {who} before it started: nothing was sent to Codegen."
CANCEL_DONE = "Cancelled: it had not started, so nothing was sent to Codegen."
CANCEL_STARTED = "Its run has started, too late to cancel; ⏹️ Stop on the run's card asks it to stop."
CANCEL_TOO_LATE = (
    "It is starting now, too late to cancel; once its card shows the run, ⏹️ Stop asks the run to stop."
)


def stop_text(run: RunRecord, stop: StopRecord) -> str:
    """mrkdwn: who stopped the run and exactly what the bot did about it."""
    who = f"<@{stop.user}>"
    if stop.state == "sent":
        text = (
            f"⏹️ Stopped by {who}: {NO_CANCEL}, so the bot sent the run one follow-up telling the agent"
            " to stop work now and make no further changes."
        )
    elif stop.state == "failed":
        reason = f" ({stop.error})" if stop.error else ""
        text = f"⏹️ {who} asked to stop this run, but the stop follow-up could not be sent{reason}."
    elif stop.state == "dropped":
        text = (
            f"⏹️ {who} asked to stop this run, but it finished before the stop could be sent,"
            " so nothing was sent."
        )
    else:
        text = (
            f"⏹️ Stop asked by {who}: {NO_CANCEL}, so the bot will send the run one follow-up telling"
            " the agent to stop work now and make no further changes. Codegen takes it as soon as the"
            " agent pauses; if the run finishes first, nothing is sent."
        )
    if run.pull_requests:
        text += f" {PR_ACTIONS_NOTE}"
    return text


def already_finished_text(run: RunRecord) -> str:
    """The reply to stopping a run that has finished: there is nothing to stop, nothing was sent."""
    status = run.status.strip().capitalize() or "finished"
    text = f"Run #{run.run_id} had already finished ({status}), so there was nothing to stop."
    text += " Nothing was sent."
    if run.pull_requests:
        text += f" {PR_ACTIONS_NOTE}"
    return text


def mute_text(user: str) -> str:
    """The card's line for a muted thread."""
    return (
        f"🔇 Follow-ups muted by <@{user}>: replies here are not sent to the agent."
        " Say `unmute` to the bot, or use the button, to send them again."
    )


def control_notes(run: RunRecord, controls: RunControls | None) -> list[str]:
    """The card's context lines about Stop and muting (none when neither applies)."""
    if controls is None:
        return []
    notes = [stop_text(run, controls.stop)] if controls.stop else []
    if controls.muted_by:
        notes.append(mute_text(controls.muted_by))
    return notes


def control_buttons(run: RunRecord, controls: RunControls | None) -> list[dict[str, Any]]:
    """Stop (a working run not yet asked to stop) and Mute or Unmute follow-ups."""
    value = str(run.run_id)
    buttons = []
    if not run.finished and not (controls and controls.stop):
        buttons.append(button("⏹️ Stop", STOP, value, style="danger"))
    if controls and controls.muted_by:
        buttons.append(button("🔔 Unmute follow-ups", UNMUTE, value))
    else:
        buttons.append(button("🔇 Mute follow-ups", MUTE, value))
    return buttons
