""" "Show steps": posts a run's last steps in its thread when someone asks (a `steps` job)."""

from __future__ import annotations

from bot.codegen import CodegenClient, RunNotFound
from bot.jobs import Dead, JobKind, Outcome, RetryPolicy
from bot.render.steps import steps_message
from bot.replies import requester_notice
from bot.slack_out import SlackOut
from storage.job_kinds import STEPS
from storage.ports import StepsStore
from storage.records import Job

STEPS_SHOWN = 10
STEPS_POLICY = RetryPolicy(max_attempts=3, base_seconds=5.0)  # someone is waiting: give up soon


def steps_kind(store: StepsStore, codegen: CodegenClient, slack: SlackOut) -> JobKind:
    """The `steps` job kind (the logs call may use the whole run-logs limit)."""

    def handle(job: Job) -> Outcome | None:
        request = store.get_request(job.request_id or 0)
        if request is None or request.run_id is None or request.state != "pending":
            return None
        try:
            page = codegen.run_logs(request.run_id, limit=STEPS_SHOWN, reverse=True)
        except RunNotFound:
            return Dead(f"Codegen no longer knows run {request.run_id}.")
        message = steps_message(request.run_id, page.logs, page.total_logs or len(page.logs))
        slack.post(request.channel, message, thread_ts=request.thread_ts or None)
        store.update_request(request.id, state="done")
        return None

    notice = requester_notice(
        store, lambda request, reason: f"Couldn't show the steps of run {request.run_id}: {reason}"
    )
    return JobKind(STEPS, handle, policy=STEPS_POLICY, notice=notice)
