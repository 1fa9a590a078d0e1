"""`unfurl` jobs: previews of Codegen run links posted in Slack (`link_shared` → `chat.unfurl`).

Each message's links are unfurled once (the job's key names the message). A run the bot started is
shown from storage; any other run is read by id from Codegen within `UNFURL_SHARE` of the standard
limit (runs people are waiting on keep the rest); a run Codegen will not show this token is
previewed as "not available". A message that is gone ends the effect.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.codegen import AccessDenied, CodegenClient, RunNotFound
from bot.jobs import JobKind, Outcome
from bot.render.unfurls import run_id_of, run_preview, unavailable_preview
from bot.slack_errors import is_gone, slack_error
from bot.slack_limits import UNFURL
from bot.slack_out import SlackOut
from bot.watcher import pull_requests
from storage.job_kinds import UNFURL_JOB
from storage.ports import UnfurlStore
from storage.records import Job, RunRecord

log = logging.getLogger("codegen_slack.unfurls")

UNFURL_SHARE = 0.5  # of Codegen's standard limit, for runs the bot did not start
SLACK_SHARE = 0.8
# chat.unfurl answers after which this message cannot be unfurled (docs.slack.dev, chat.unfurl).
CANNOT = frozenset(
    {"cannot_unfurl_url", "cannot_find_message", "cannot_find_channel", "cannot_unfurl_message"}
)
MAX_LINKS = 5  # previews per message


def unfurl_kind(store: UnfurlStore, codegen: CodegenClient, slack: SlackOut, domain: str) -> JobKind:
    """The `unfurl` job kind."""
    unfurls = Unfurls(store, codegen, slack, domain)
    return JobKind(UNFURL_JOB, unfurls.unfurl, gate=lambda: slack.limits.wait_time(UNFURL, share=SLACK_SHARE))


class Unfurls:
    """Previews Codegen run links."""

    def __init__(self, store: UnfurlStore, codegen: CodegenClient, slack: SlackOut, domain: str) -> None:
        self._store = store
        self._codegen = codegen
        self._slack = slack
        self._domain = domain

    def unfurl(self, job: Job) -> Outcome | None:
        """Preview every run link of one message (payload: channel, ts, links)."""
        payload = job.payload
        previews = {}
        for url in list(dict.fromkeys(payload.get("links") or []))[:MAX_LINKS]:
            run_id = run_id_of(str(url), self._domain)
            if run_id is not None:
                previews[str(url)] = self._preview(run_id)
        if not previews:
            return None
        try:
            self._slack.call(UNFURL, channel=payload["channel"], ts=payload["ts"], unfurls=previews)
        except SlackApiError as exc:
            if slack_error(exc) not in CANNOT and not is_gone(exc):
                raise
            log.info("no preview for a message in %s (%s)", payload["channel"], slack_error(exc))
        return None

    def _preview(self, run_id: int) -> dict[str, object]:
        run = self._store.get_run(run_id)
        if run is not None:
            return run_preview(run, ours=True)
        try:
            found = self._codegen.get_run(run_id, share=UNFURL_SHARE)
        except (RunNotFound, AccessDenied):
            return unavailable_preview(run_id)
        record = RunRecord(
            run_id=run_id, channel="", thread_ts="", requester="", prompt="", status=found.status or "",
            web_url=found.web_url, result=found.result, summary=found.summary,
            pull_requests=pull_requests(found),
        )  # fmt: skip
        return run_preview(record, ours=False)
