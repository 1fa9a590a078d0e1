"""`session` jobs: each run is a Slack agent session on its thread (docs.slack.dev, "Agent sessions").

- `agents.sessions.setStatus`: `processing` while Codegen works (the session is made then, titled
  from the prompt, with the requester as its initiator), `active` once the run waits (after a Stop,
  or in a status Codegen reports as neither working nor finished), `closed` when it finished. A
  follow-up that resumes a closed run makes it `processing` again.
- `assistant.threads.setStatus`: while processing, the run's latest step is the thread's loading
  text (cleared when the session stops processing). Slack removes a loading text after two minutes
  without a message, so while the run works the job sets it again every LOADING_KEEP_SECONDS. The
  card keeps its own step line for clients that show neither.

A job shows the run as it is now, so changes that pile up cost one call each; each method is used
within `SESSION_SHARE` of its limit (the rest is left for people's own actions). A thread that is
gone ends the effect (logged).
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.jobs import Again, JobKind, Outcome
from bot.render.limits import truncate
from bot.slack_errors import is_gone, slack_error
from bot.slack_limits import LOADING_STATUS, SESSION_STATUS
from bot.slack_out import SlackOut
from storage.agent_controls import SessionShown
from storage.job_kinds import SESSION
from storage.ports import SessionStore
from storage.records import Job, RunRecord

log = logging.getLogger("codegen_slack.sessions")

SESSION_SHARE = 0.8
TITLE_CHARS = 80  # Slack allows 200; a title is for recall in a list
LOADING_CHARS = 100
# assistant.threads.setStatus: "A two minute timeout applies, which will cause the status to be
# removed if no message has been sent." Set it again a little before.
LOADING_KEEP_SECONDS = 100.0
WORKING = frozenset({"PENDING", "QUEUED", "ACTIVE", "RUNNING"})
# Answers after which the session cannot be shown for this run (its thread or channel is gone):
# give up quietly instead of retrying. Other refusals follow the job's retry policy.
GIVE_UP = frozenset({"invalid_thread_ts", "channel_not_found"})
STOP_NOT_SUBSCRIBED = "missing_agent_session_stopped_event_subscription"


def session_status(run: RunRecord, stop_requested: bool) -> str:
    """`processing`, `active` or `closed` for the run as it is."""
    if run.finished:
        return "closed"
    if stop_requested or run.status.upper() not in WORKING:
        return "active"
    return "processing"


def session_title(prompt: str) -> str:
    """The session's title: the prompt's first line, shortened."""
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "Codegen run")
    return truncate(first, TITLE_CHARS)


def session_kind(store: SessionStore, slack: SlackOut, clock: Clock) -> JobKind:
    """The `session` job kind."""
    sessions = Sessions(store, slack, clock)
    limits = slack.limits
    return JobKind(
        SESSION,
        sessions.show,
        gate=lambda: max(
            limits.wait_time(SESSION_STATUS, share=SESSION_SHARE),
            limits.wait_time(LOADING_STATUS, share=SESSION_SHARE),
        ),
    )


class Sessions:
    """Shows runs as Slack agent sessions."""

    def __init__(self, store: SessionStore, slack: SlackOut, clock: Clock) -> None:
        self._store = store
        self._slack = slack
        self._clock = clock
        self._warned = False

    def show(self, job: Job) -> Outcome | None:
        """Bring the run's session status and loading text up to date (each call only on a change)."""
        run = self._store.get_run(job.run_id or 0)
        if run is None or not run.thread_ts:
            return None
        status = session_status(run, self._store.stop_request(run.run_id) is not None)
        step = run.latest_step.strip() if run.latest_step else ""
        loading = truncate(" ".join(step.split()), LOADING_CHARS) if status == "processing" and step else None
        shown = self._store.session_shown(run.run_id)
        now = self._clock.now()
        fading = bool(loading) and now - shown.at >= LOADING_KEEP_SECONDS
        if (status, loading) == (shown.status, shown.loading) and not fading:
            return self._again(loading, shown.at, now)
        try:
            if status != shown.status:
                self._set_status(run, status)
            if fading or (loading != shown.loading and (loading or shown.loading)):
                self._slack.call(
                    LOADING_STATUS,
                    channel_id=run.channel,
                    thread_ts=run.thread_ts,
                    status=loading or "",
                    **({"loading_messages": [loading]} if loading else {}),
                )
        except SlackApiError as exc:
            error = slack_error(exc)
            if error not in GIVE_UP and not is_gone(exc):
                raise
            log.info("run %s: no agent session in Slack (%s)", run.run_id, error)
        self._store.mark_session_shown(run.run_id, SessionShown(status, loading), now)
        return self._again(loading, now, now)

    @staticmethod
    def _again(loading: str | None, shown_at: float, now: float) -> Outcome | None:
        """While a loading text shows, look again when it is due to be set anew."""
        return Again(max(1.0, shown_at + LOADING_KEEP_SECONDS - now)) if loading else None

    def _set_status(self, run: RunRecord, status: str) -> None:
        answer = self._slack.call(
            SESSION_STATUS,
            channel_id=run.channel,
            thread_ts=run.thread_ts,
            status=status,
            title=session_title(run.prompt),
            initiator_user_id=run.requester or None,
        )
        if answer.get("warning") == STOP_NOT_SUBSCRIBED and not self._warned:
            self._warned = True
            log.warning(
                "Slack shows no stop button on agent sessions: subscribe the app to agent_session_stopped"
                " (manifest.yml lists it under bot_events)"
            )
