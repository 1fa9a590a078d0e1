"""`card` and `refresh` jobs: each run's status message edited to show the run as it is now.

A `card` job follows a change of status or pull requests (and adds ✅ / ❌ once the run finished,
taken off again when a follow-up sets the run working again) within `STATUS_SHARE` of Slack's edit
and reaction limits; a `refresh` job, recurring every minute while the run works and due at once
when its latest step changes, keeps the elapsed time and step line current within the smaller
`REFRESH_SHARE`. The rest of each limit is left for people's own
actions. An edit shows the run's latest state, so changes that pile up behind the limit cost one
edit per run. A message that is gone ends the effect.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.jobs import Again, JobKind, Outcome
from bot.render.messages import reaction_for
from bot.render.status_card import status_message
from bot.slack_errors import is_gone, slack_error
from bot.slack_limits import EDIT, REACT, UNREACT
from bot.slack_out import SlackOut
from storage.job_kinds import CARD, REFRESH, REFRESH_SECONDS
from storage.ports import CardStore
from storage.records import Job, RunRecord, is_finished

log = logging.getLogger("codegen_slack.cards")

STATUS_SHARE = 0.8  # of Slack's edit and reaction limits, for status changes; the rest for people
REFRESH_SHARE = 0.5  # of the edit limit, for elapsed-time and progress edits


def card_kinds(store: CardStore, slack: SlackOut, clock: Clock) -> list[JobKind]:
    """The `card` and `refresh` job kinds."""
    cards = Cards(store, slack, clock)
    limits = slack.limits
    return [
        JobKind(
            CARD,
            cards.show,
            gate=lambda: max(limits.wait_time(m, share=STATUS_SHARE) for m in (EDIT, REACT, UNREACT)),
        ),
        JobKind(REFRESH, cards.refresh, gate=lambda: limits.wait_time(EDIT, share=REFRESH_SHARE)),
    ]


class Cards:
    """Edits status messages."""

    def __init__(self, store: CardStore, slack: SlackOut, clock: Clock) -> None:
        self._store = store
        self._slack = slack
        self._clock = clock

    def show(self, job: Job) -> Outcome | None:
        """Mark a finish on the thread, then edit the card to show the run as it is (in that order, so a
        retry after a failed edit still finds the card behind and reacting again is harmless)."""
        run = self._store.get_run(job.run_id or 0)
        if run is None or not run.status_ts:
            return None
        if run.shown_status == run.status and run.shown_at is not None:
            return None  # the card shows the run as it is (a change arrived and was shown already)
        stale = _stale_reaction(run)
        try:
            if stale is not None:
                self._slack.unreact(run.channel, run.thread_ts, stale)
            if run.finished:
                self._slack.react(run.channel, run.thread_ts, reaction_for(run.status))
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
        self._edit(run)
        return None

    def refresh(self, job: Job) -> Outcome | None:
        """Edit a working run's card for its elapsed time and latest step; again in a minute."""
        run = self._store.get_run(job.run_id or 0)
        if run is None or not run.status_ts or run.finished:
            return None
        if not self._edit(run):
            return None
        return Again(REFRESH_SECONDS)

    def _edit(self, run: RunRecord) -> bool:
        """Edit the card; False when it is gone (nothing more to show there)."""
        assert run.status_ts
        try:
            controls = self._store.run_controls(run.run_id, run.channel, run.thread_ts)
            states = self._store.pr_states(run.run_id)
            card = status_message(run, self._clock.now(), controls, states)
            self._slack.update(run.channel, run.status_ts, card)
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            log.info("run %s: its status message is gone (%s)", run.run_id, slack_error(exc))
            self._store.mark_shown(run.run_id, run.status, self._clock.now())
            return False
        self._store.mark_card_shown(run, self._clock.now())
        return True


def _stale_reaction(run: RunRecord) -> str | None:
    """The finish reaction the thread shows (for the status the card last showed) that no longer
    holds: a follow-up set the run working again, or it finished otherwise since. None: none to take off."""
    if not is_finished(run.shown_status):
        return None
    shown = reaction_for(run.shown_status or "")
    return None if run.finished and reaction_for(run.status) == shown else shown
