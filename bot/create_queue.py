"""The `queue` job: tells the requests that wait for Codegen's create limit where they stand.

Each waiting request gets one message ("queued, position N, starts in about M min") that later
becomes its run's status message. Positions move whenever a run starts; they are re-edited front
first, at most `QUEUE_EDITS_PER_MINUTE` edits a minute, so a long queue cannot use up Slack's edit
limit (a message not yet re-edited overstates the wait, never understates it). A cancelled
request's message is edited to say who cancelled it. The job recurs every `TICK_SECONDS` while any
create is pending.
"""

from __future__ import annotations

import logging
import math

from slack_sdk.errors import SlackApiError

from bot.creates import CreateDeps, post_status_message
from bot.jobs import Again, JobKind, Outcome
from bot.render.controls import CANCELLED
from bot.render.messages import SlackMessage
from bot.render.status_card import queued_message
from bot.slack_errors import slack_error
from bot.slack_limits import EDIT, METHOD_LIMITS
from storage.job_kinds import QUEUE
from storage.records import Job, Request

log = logging.getLogger("codegen_slack.queue")

QUEUE_EDITS_PER_MINUTE = 20  # of Slack's 50 chat.update calls a minute; the rest is for cards
QUEUE_EDIT_SHARE = QUEUE_EDITS_PER_MINUTE / METHOD_LIMITS[EDIT]
QUEUE_HEAD = 50  # positions kept current: the requests that start within the next few minutes
NOTICES_PER_TURN = 20
TICK_SECONDS = 1.0


def queue_kind(deps: CreateDeps, creates_per_minute: int) -> JobKind:
    """The `queue` job kind."""
    return JobKind(QUEUE, CreateQueue(deps, creates_per_minute).handle, exclusive=True)


class CreateQueue:
    """One turn: post the messages of newly waiting requests, then bring shown positions up to date."""

    def __init__(self, deps: CreateDeps, creates_per_minute: int) -> None:
        self.d = deps
        self._per_minute = creates_per_minute

    def handle(self, job: Job) -> Outcome | None:
        """Do one turn; again in a moment while requests wait, done when none does."""
        shown_all = self._show_cancelled()
        if not self.d.store.queue_head("create", 1):
            return None if shown_all else Again(TICK_SECONDS)
        posted_all = self._post_queued()
        wait = self._refresh_positions() if posted_all else 0.0
        return Again(TICK_SECONDS if wait is None else min(wait, TICK_SECONDS))

    def _post_queued(self) -> bool:
        """Post the queued message of waiting requests without one (not of those that start now:
        they get the starting message), at most `NOTICES_PER_TURN` a turn, each waiting for room in
        its channel's posting limit; True when none is left for now."""
        now = self.d.clock.now()
        starting_now = max(0, self.d.limits.create.limit - self.d.limits.create.used())
        found = self.d.store.requests_without_message("create", now, NOTICES_PER_TURN)
        for request, position in found:
            if position <= starting_now:
                continue
            try:
                self._post(request, position)
            except SlackApiError as exc:  # the create job says what is wrong when it gets there
                log.warning("request %s: queued message not posted (%s)", request.id, slack_error(exc))
                continue
            self.d.store.note_queued(request.id, f"queued:{position}")
        return len(found) < NOTICES_PER_TURN

    def _show_cancelled(self) -> bool:
        """Edit the messages of cancelled requests to say who cancelled them (this job alone edits
        queued messages, so no position edit can land after it); True when none is left for now."""
        cancelled = self.d.store.cancels_to_show(NOTICES_PER_TURN)
        for request in cancelled:
            who = (request.notice or "").removeprefix("cancel:")
            said = SlackMessage(text=CANCELLED.format(who=f"<@{who}>"), blocks=[])
            try:
                if request.status_ts:
                    self.d.slack.update(request.channel, request.status_ts, said)
            except SlackApiError as exc:
                log.warning("request %s: not shown cancelled (%s)", request.id, slack_error(exc))
            self.d.store.update_request(request.id, notice="cancelled")
        return len(cancelled) < NOTICES_PER_TURN

    def _post(self, request: Request, position: int) -> None:
        post_status_message(self.d, request, queued_message(request, position, self._eta(position)))

    def _refresh_positions(self) -> float | None:
        """Edit the queued messages whose position moved, front first, within the edit budget; returns
        seconds until the budget allows the next edit when it ran out first."""
        for position, request in enumerate(self.d.store.queue_head("create", QUEUE_HEAD), start=1):
            notice = f"queued:{position}"
            queued = bool(request.status_ts) and (request.notice or "").startswith("queued:")
            if not queued or request.notice == notice:
                continue
            wait = self.d.slack.limits.wait_time(EDIT, share=QUEUE_EDIT_SHARE)
            if wait > 0:
                return wait
            assert request.status_ts
            try:
                self.d.slack.update(
                    request.channel, request.status_ts, queued_message(request, position, self._eta(position))
                )
            except SlackApiError as exc:
                log.warning("request %s: queued message not updated (%s)", request.id, slack_error(exc))
            self.d.store.note_queued(request.id, notice)
        return None

    def _eta(self, position: int) -> int:
        return max(1, math.ceil(position / self._per_minute))
