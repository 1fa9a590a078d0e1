"""The `reaction` job: a message someone reacted to with the trigger emoji (CODEGEN_SLACK_TRIGGER_EMOJI)
goes to Codegen as *Send to Codegen* sends it, with the channel's defaults and no form: the message
whole, its thread as context, the run in that thread, started for whoever reacted.

The reaction event names only the message, so the job reads it first (its thread and files). The
request's key is the message's: one run per message, however many people react."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.command_text import RunCommand
from bot.jobs import JobKind, Outcome
from bot.render.modals import ATTACHED_INSTRUCTION
from bot.slack_errors import is_gone
from bot.slack_out import SlackOut
from bot.watch_jobs import RecordRun
from storage.job_kinds import REACTION
from storage.records import Job

log = logging.getLogger("codegen_slack.reactions")


def reaction_kind(slack: SlackOut, record_run: RecordRun, max_prompt_chars: int) -> JobKind:
    """The `reaction` job kind."""

    def handle(job: Job) -> Outcome | None:
        channel, ts, user = str(job.payload["channel"]), str(job.payload["ts"]), str(job.payload["user"])
        try:
            message = slack.message(channel, ts)
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            message = None
        if message is None:
            log.info("the message %s reacted to in %s is gone; no run", ts, channel)
            return None
        refusal = record_run(
            key=job.key, channel=channel, user=user, command=RunCommand(prompt=ATTACHED_INSTRUCTION),
            thread_ts=str(message.get("thread_ts") or ts), message_ts=ts, thread_context=True,
            files=message.get("files") or [], attached_cap=max_prompt_chars - len(ATTACHED_INSTRUCTION),
        )  # fmt: skip
        if refusal:
            slack.ephemeral(channel, user, refusal, thread_ts=str(message.get("thread_ts") or "") or None)
        return None

    return JobKind(REACTION, handle)
