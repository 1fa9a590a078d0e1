"""`announce` jobs: a finished run's result posted in its thread, once per finish, and a DM if asked.

Results go before everything but failure notices: they are what people wait for, and posts have
their own limit (per channel), so a backlog of card edits never delays a result. A channel whose
posting limit is full is passed over (the job is deferred on that channel) while other channels go
on. A result whose parts were partly posted before a crash is completed, not repeated: the parts
already in the thread are found by their metadata. When the thread or channel is gone, the result
goes to the requester by DM.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.jobs import Defer, JobKind, Outcome
from bot.render.results import RESULT_EVENT, finished_dm, result_messages, unreachable_channel_message
from bot.slack_errors import is_gone, slack_error
from bot.slack_limits import POST
from bot.slack_out import SlackOut
from storage.job_kinds import ANNOUNCE, POST_RESOURCE
from storage.ports import AnnounceStore
from storage.records import Job, RunRecord

log = logging.getLogger("codegen_slack.announce")


def announce_kind(
    store: AnnounceStore,
    slack: SlackOut,
    clock: Clock,
    on_announced: Callable[[float], None] = lambda s: None,
) -> JobKind:
    """The `announce` job kind; `on_announced(seconds)` hears how long after the finish each was posted."""
    announcer = Announcer(store, slack, clock, on_announced)
    return JobKind(ANNOUNCE, announcer.handle, notice=announcer.notice)


class Announcer:
    """Posts one finish of one run."""

    def __init__(
        self, store: AnnounceStore, slack: SlackOut, clock: Clock, on_announced: Callable[[float], None]
    ) -> None:
        self._store = store
        self._slack = slack
        self._clock = clock
        self._on_announced = on_announced

    def handle(self, job: Job) -> Outcome | None:
        """Post the result parts not yet in the thread, DM if asked, remember it."""
        assert job.run_id is not None
        finish = int(job.payload.get("finish") or 1)
        run = self._store.get_run(job.run_id)
        state = self._store.announcement_state(job.run_id)
        if run is None or state is None or state.announced >= finish:
            return None
        wait = self._slack.limits.wait_time(POST, run.channel)
        if wait > 0:  # this channel's posts are used up for now; other channels go on
            return Defer(wait, POST_RESOURCE + run.channel)
        notify = self._store.channel_settings(run.channel).notify
        try:
            self._post(run, finish, begun=state.begun, notify=notify)
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            self._thread_gone(run, slack_error(exc))
            return None
        self._dm_requester(run, finish, dm=notify == "dm")
        self._store.mark_announced(run.run_id, finish, self._clock.now())
        self._on_announced(self._clock.now() - (run.finished_at or self._clock.now()))
        log.info("run %s announced (%s)", run.run_id, run.status)
        return None

    def notice(self, job: Job, reason: str) -> dict[str, object] | None:
        """The result could not be posted for good: its requester gets it by DM, with why."""
        run = self._store.get_run(job.run_id or 0)
        if run is None:
            return None
        return {"user": run.requester, "channel": run.channel, "run_id": run.run_id, "text": reason}

    def _post(self, run: RunRecord, finish: int, *, begun: bool, notify: str) -> None:
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
        broadcast_first = notify == "channel"
        for message in messages:
            part = int((message.metadata or {}).get("event_payload", {}).get("part", -1))
            if part not in posted:
                broadcast = broadcast_first and part == 1
                self._slack.post(run.channel, message, thread_ts=run.thread_ts, broadcast=broadcast)

    def _dm_requester(self, run: RunRecord, finish: int, *, dm: bool) -> None:
        """DM the requester about a run started in a channel if the channel or they asked for it (once)."""
        if run.channel.startswith("D") or self._store.finish_dm_sent(run.run_id, finish):
            return
        if dm or self._store.user_prefs(run.requester).dm_on_finish:
            try:
                self._slack.direct_message(run.requester, finished_dm(run))
            except SlackApiError as exc:
                if not is_gone(exc):
                    raise  # retried; the parts already in the thread are found, not posted again
                log.warning("run %s: could not DM the requester (%s)", run.run_id, slack_error(exc))
                return
            self._store.mark_finish_dm_sent(run.run_id, finish)

    def _thread_gone(self, run: RunRecord, error: str) -> None:
        """The thread can't be written: send the requester the result by DM instead (retried when
        Slack fails for a moment) and stop trying there."""
        dm_result(self._slack, run, error)
        now = self._clock.now()
        self._store.mark_shown(run.run_id, run.status, now)
        self._store.mark_announced_all(run.run_id, now)


def dm_result(slack: SlackOut, run: RunRecord, error: str) -> None:
    """DM `run`'s requester why its thread could not have the result (`error`), then the result."""
    try:
        slack.direct_message(run.requester, unreachable_channel_message(run, error))
        for message in result_messages(run):
            slack.direct_message(run.requester, message)
    except SlackApiError as exc:
        if not is_gone(exc):
            raise
        log.warning("run %s: could not DM the requester either (%s)", run.run_id, slack_error(exc))
