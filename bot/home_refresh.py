"""Keeps each App Home tab that someone has opened showing their runs as they are now.

Storage marks a Home out of date when one of its runs is made or changes. Each is republished at
most every `MIN_INTERVAL_SECONDS` (a burst of changes costs one publish), within `SHARE` of Slack's
views.publish limit so a person opening their Home always finds room.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.render.home import HOME_RUNS_SHOWN, home_view
from bot.slack_out import SlackOut
from storage.store import Store

log = logging.getLogger("codegen_slack.home")

MIN_INTERVAL_SECONDS = 5.0
SHARE = 0.5
PUBLISHES_PER_STEP = 20
PUBLISH = "views.publish"
RETRY_SECONDS = 5.0


class HomeRefresher:
    """One step: republish the Home tabs that are out of date, as far as the limit allows."""

    def __init__(self, *, store: Store, slack: SlackOut, clock: Clock) -> None:
        self._store = store
        self._slack = slack
        self._clock = clock

    def step(self) -> float | None:
        """Publish due Homes; returns seconds until the next may be published (None: none is due)."""
        now = self._clock.now()
        for user in self._store.homes_due(now - MIN_INTERVAL_SECONDS, PUBLISHES_PER_STEP):
            wait = self._slack.limits.wait_time(PUBLISH, share=SHARE)
            if wait > 0:
                return wait
            if not self._publish(user):
                return RETRY_SECONDS
        due = self._store.next_home_due()
        return None if due is None else max(0.05, due + MIN_INTERVAL_SECONDS - self._clock.now())

    def _publish(self, user: str) -> bool:
        """Publish `user`'s Home as it is now; False when Slack did not answer (try again later)."""
        now = self._clock.now()
        view = home_view(self._store.runs_for_home(user, HOME_RUNS_SHOWN), self._store.user_prefs(user), now)
        try:
            self._slack.publish_home(user, view)
        except SlackApiError as exc:  # the user left, or the view is refused: try at the next change
            log.warning("could not refresh the Home tab of %s (%s)", user, exc.response.get("error"))
        except OSError as exc:
            log.warning("Slack did not answer a Home refresh (%s); trying again later", type(exc).__name__)
            return False
        self._store.home_published(user, now)
        return True
