"""The `watch` job: what a message a watch rule matched gets (storage/watches.py decided which).

- run: the rule's prompt, filled with the message and its permalink (chat.getPermalink), becomes a
  create request in the message's thread, as the rule's author's run, through the usual intake
  (`record_run`, handlers/intake.record_run_request): the create queue, cards and announcements as
  for any run. The request's key is the message's, so a retried job records it once.
- repeat: a reply in the message's thread links to the earlier alert's thread, where the run is.
- capped: a reply in the message's thread says the rule's hourly cap is reached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.command_text import RunCommand
from bot.jobs import JobKind, Outcome
from bot.render.messages import SlackMessage
from bot.render.triggers import watch_capped_text, watch_link_text
from bot.slack_errors import is_gone
from bot.slack_out import SlackOut
from bot.watch_rules import fill_template
from storage.job_kinds import WATCH
from storage.records import Job

log = logging.getLogger("codegen_slack.watch")

RecordRun = Callable[..., str | None]  # handlers.intake.record_run_request bound to the handler context


def watch_kind(slack: SlackOut, record_run: RecordRun, max_prompt_chars: int) -> JobKind:
    """The `watch` job kind."""

    def handle(job: Job) -> Outcome | None:
        try:
            act(job.payload)
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            log.info("watch rule %s: the message or its channel is gone (%s)", job.payload["rule_id"], exc)
        return None

    def act(p: dict[str, Any]) -> None:
        channel, ts = str(p["channel"]), str(p["message_ts"])
        if p["outcome"] == "run":
            prompt = fill_template(
                p.get("template"), text=str(p["text"]), permalink=slack.permalink(channel, ts),
                max_chars=max_prompt_chars,
            )  # fmt: skip
            refusal = record_run(
                key=f"{WATCH}:{channel}:{ts}", channel=channel, user=str(p["user"]),
                command=RunCommand(prompt=prompt, repo=p.get("repo")), thread_ts=ts, message_ts=ts,
                hourly_cap=0,  # the rule's own cap applies, not its author's
            )  # fmt: skip
            if refusal:
                log.warning("watch rule %s: no run for %s (%s)", p["rule_id"], ts, refusal)
            return
        if p["outcome"] == "repeat":
            text = watch_link_text(slack.permalink(channel, str(p["first_ts"])))
        else:
            text = watch_capped_text(int(p["rule_id"]), int(p["runs_per_hour"]))
        slack.post(channel, SlackMessage(text=text, blocks=[]), thread_ts=ts)

    return JobKind(WATCH, handle)
