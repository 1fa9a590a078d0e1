"""Makes Slack show what storage knows: edits status messages and announces finished runs once."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.render.messages import (
    finished_dm,
    reaction_for,
    result_messages,
    status_message,
    unreachable_channel_message,
)
from bot.slack_limits import EDIT, POST, REACT
from bot.slack_out import UNREACHABLE_CHANNEL, SlackOut
from storage.records import RunRecord
from storage.store import Store

log = logging.getLogger("codegen_slack.notifier")

RESULT_EVENT = "codegen_run_result"
ELAPSED_REFRESH_SECONDS = 60.0
ELAPSED_EDITS_PER_STEP = 5
RETRY_SECONDS = 5.0
STATUS_SHARE = 0.8  # of Slack's edit and reaction limits, for status changes; the rest for people
REFRESH_SHARE = 0.5  # of the edit limit, for elapsed-time and progress edits


class Notifier:
    """One step: post unannounced results, then fix stale status messages, then refresh elapsed times.

    Results go first: they are what people wait for, and posts have their own limit (per channel),
    so a backlog of status edits, whose limit is far lower, never delays a result. Edits and
    reactions are made only while their share of Slack's limit has room; an edit shows a run's
    latest state, so changes that pile up behind the limit cost one edit per run, not one per change.
    """

    def __init__(
        self,
        *,
        store: Store,
        slack: SlackOut,
        clock: Clock,
        on_announced: Callable[[float], None] | None = None,
    ) -> None:
        self._on_announced = on_announced or (lambda latency: None)
        self._store = store
        self._slack = slack
        self._clock = clock

    def step(self) -> float | None:
        """Bring Slack up to date as far as its limits allow; returns seconds until more is due."""
        failed = False
        waits = [ELAPSED_REFRESH_SECONDS / 2]
        for run, finish, begun in self._store.runs_to_announce():
            wait = self._slack.limits.wait_time(POST, run.channel)
            if wait > 0:  # this channel's posts are used up for now; other channels go on
                waits.append(wait)
                continue
            failed |= not self._attempt(run, lambda r, f=finish, b=begun: self._announce(r, f, b))
        for run in self._store.runs_to_show():
            wait = self._edit_wait(run, STATUS_SHARE)
            if wait > 0:
                waits.append(wait)
                break
            failed |= not self._attempt(run, self._show)
        now = self._clock.now()
        for run in self._store.runs_to_refresh(now - ELAPSED_REFRESH_SECONDS, ELAPSED_EDITS_PER_STEP):
            wait = self._edit_wait(run, REFRESH_SHARE)
            if wait > 0:
                waits.append(wait)
                break
            failed |= not self._attempt(run, self._show)
        return RETRY_SECONDS if failed else min(waits)

    def _edit_wait(self, run: RunRecord, share: float) -> float:
        """Seconds until `share` of Slack's limits has room to show `run` (an edit, and a reaction
        once it finished)."""
        wait = self._slack.limits.wait_time(EDIT, share=share)
        if run.finished:
            wait = max(wait, self._slack.limits.wait_time(REACT, share=share))
        return wait

    def _attempt(self, run: RunRecord, action) -> bool:
        """Run one Slack effect; False when it should be tried again later."""
        try:
            action(run)
            return True
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in UNREACHABLE_CHANNEL:
                self._channel_gone(run, str(error))
                return True
            log.warning("run %s: Slack update failed (%s); will retry", run.run_id, error)
            return False
        except OSError as exc:  # no answer: a post may have landed, so the retry looks first
            log.warning("run %s: Slack did not answer (%s); will retry", run.run_id, type(exc).__name__)
            return False

    def _show(self, run: RunRecord) -> None:
        """Edit the status message to show the run as it is, and mark a finish on the thread."""
        assert run.status_ts
        self._slack.update(run.channel, run.status_ts, status_message(run, self._clock.now()))
        if run.finished:
            self._slack.react(run.channel, run.thread_ts, reaction_for(run.status))
        self._store.mark_card_shown(run, self._clock.now())

    def _announce(self, run: RunRecord, finish: int, begun: bool) -> None:
        """Post the result parts not yet in the thread, DM if asked, remember it."""
        messages = result_messages(run)
        for message in messages:
            if message.metadata:
                message.metadata["event_payload"]["finish"] = finish
        posted: set[int] = set()
        if begun:
            posted = {
                int(p.get("part", -1))
                for p in self._slack.thread_payloads(run.channel, run.thread_ts, RESULT_EVENT)
                if p.get("run_id") == run.run_id and p.get("finish") == finish
            }
        else:
            self._store.begin_announcement(run.run_id)
        notify = self._store.channel_settings(run.channel).notify
        for message in messages:
            part = int((message.metadata or {}).get("event_payload", {}).get("part", -1))
            if part not in posted:
                broadcast = notify == "channel" and part == 1
                self._slack.post(run.channel, message, thread_ts=run.thread_ts, broadcast=broadcast)
        self._dm_requester(run, finish, dm=notify == "dm")
        self._store.mark_announced(run.run_id, finish)
        self._on_announced(self._clock.now() - (run.finished_at or self._clock.now()))
        log.info("run %s announced (%s)", run.run_id, run.status)

    def _dm_requester(self, run: RunRecord, finish: int, *, dm: bool) -> None:
        """DM the requester about a run started in a channel if the channel or they asked for it (once)."""
        if run.channel.startswith("D") or self._store.finish_dm_sent(run.run_id, finish):
            return
        if dm or self._store.user_prefs(run.requester).dm_on_finish:
            try:
                self._slack.direct_message(run.requester, finished_dm(run))
            except SlackApiError as exc:
                log.warning("run %s: could not DM the requester (%s)", run.run_id, exc.response.get("error"))
                return
            self._store.mark_finish_dm_sent(run.run_id, finish)

    def _channel_gone(self, run: RunRecord, error: str) -> None:
        """The channel can't be written: tell the requester by DM and stop trying there."""
        try:
            self._slack.direct_message(run.requester, unreachable_channel_message(run, error))
        except SlackApiError as exc:
            log.warning(
                "run %s: could not DM the requester either (%s)", run.run_id, exc.response.get("error")
            )
        self._store.mark_shown(run.run_id, run.status, self._clock.now())
        if run.finished:
            self._store.mark_announced_all(run.run_id)
