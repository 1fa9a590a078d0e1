"""`home` jobs: each App Home tab that someone has opened shows their runs as they are now.

A Home is published when its owner opens it, and again when one of their runs is made or changes:
storage arms the job, not before `HOME_MIN_INTERVAL_SECONDS` after the last publish, so a burst of
changes costs one publish. Republishing for a change uses at most `SHARE` of Slack's views.publish
limit, so a person opening their Home always finds room.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.jobs import Defer, JobKind, Outcome
from bot.render.home import HOME_RUNS_SHOWN, home_view
from bot.slack_errors import is_gone, slack_error
from bot.slack_out import SlackOut
from storage.job_kinds import HOME
from storage.ports import HomeStore
from storage.records import Job

log = logging.getLogger("codegen_slack.home")

SHARE = 0.5
PUBLISH = "views.publish"


def home_kind(store: HomeStore, slack: SlackOut, clock: Clock) -> JobKind:
    """The `home` job kind."""

    def handle(job: Job) -> Outcome | None:
        user = str(job.payload["user"])
        if not job.payload.get("opened"):
            wait = slack.limits.wait_time(PUBLISH, share=SHARE)
            if wait > 0:
                return Defer(wait)
        now = clock.now()
        view = home_view(store.runs_for_home(user, HOME_RUNS_SHOWN), store.user_prefs(user), now)
        try:
            slack.publish_home(user, view)
        except SlackApiError as exc:
            if not is_gone(exc):
                raise
            log.info("the Home tab of %s is gone (%s)", user, slack_error(exc))
        store.home_published(user, now)
        return None

    return JobKind(HOME, handle, gate=lambda: slack.limits.wait_time(PUBLISH))
