"""`unfurl` jobs: previews of Codegen run links posted in Slack (`link_shared` → `chat.unfurl`).

Each message's links are unfurled once (the job's key names the message). A run the bot started is
shown from storage; any other run is read by id from Codegen within `UNFURL_SHARE` of the standard
limit (runs people are waiting on keep the rest); a run Codegen will not show this token is
previewed as "not available". A message that is gone ends the effect.

One chat.unfurl call carries both previews of each run: the classic blocks (`unfurls`) and a Work
Object, a Slack Task entity (`metadata`), which Slack shows instead where Work Object Previews are
on. A run that cannot be read gets no Work Object: Slack defines no "unavailable" entity for an
unfurl. Should Slack refuse the metadata, the call is made again with the classic blocks alone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError

from bot.codegen import AccessDenied, CodegenClient, RunNotFound
from bot.jobs import JobKind, Outcome
from bot.render.unfurls import run_id_of, run_preview, unavailable_preview
from bot.render.work_objects import run_entity
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
# chat.unfurl answers that refuse the Work Object only (docs.slack.dev, chat.unfurl).
METADATA_ERRORS = frozenset({"invalid_metadata_format", "error_processing_metadata"})
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
        previews: dict[str, dict[str, object]] = {}
        entities: list[dict[str, object]] = []
        for url in list(dict.fromkeys(payload.get("links") or []))[:MAX_LINKS]:
            run_id = run_id_of(str(url), self._domain)
            if run_id is None:
                continue
            found = self._read(run_id)
            if found is None:
                previews[str(url)] = unavailable_preview(run_id)
                continue
            run, ours = found
            previews[str(url)] = run_preview(run, ours=ours)
            entities.append(run_entity(run, str(url), ours=ours))
        if not previews:
            return None
        params: dict[str, object] = {"channel": payload["channel"], "ts": payload["ts"], "unfurls": previews}
        if entities:
            params["metadata"] = {"entities": entities}
        try:
            self._send(params)
        except SlackApiError as exc:
            if slack_error(exc) not in CANNOT and not is_gone(exc):
                raise
            log.info("no preview for a message in %s (%s)", payload["channel"], slack_error(exc))
        return None

    def _send(self, params: dict[str, object]) -> None:
        """chat.unfurl; a refused Work Object is dropped and the classic blocks are sent alone."""
        try:
            self._slack.call(UNFURL, **params)
        except SlackApiError as exc:
            if "metadata" not in params or slack_error(exc) not in METADATA_ERRORS:
                raise
            error = slack_error(exc)
            log.warning("Slack refused a run's Work Object (%s); sending the classic preview", error)
            self._slack.call(UNFURL, **{k: v for k, v in params.items() if k != "metadata"})

    def _read(self, run_id: int) -> tuple[RunRecord, bool] | None:
        """The run and whether the bot started it; None when Codegen will not show it to this token."""
        run = self._store.get_run(run_id)
        if run is not None:
            return run, True
        try:
            found = self._codegen.get_run(run_id, share=UNFURL_SHARE)
        except (RunNotFound, AccessDenied):
            return None
        record = RunRecord(
            run_id=run_id, channel="", thread_ts="", requester="", prompt="", status=found.status or "",
            web_url=found.web_url, result=found.result, summary=found.summary,
            pull_requests=pull_requests(found), created_at=_seconds(found.created_at),
        )  # fmt: skip
        return record, False


def _seconds(iso: str | None) -> float:
    """An ISO 8601 time from Codegen as UNIX seconds (UTC when it names no zone); 0.0 when unreadable."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
