"""`reply`, `notice` and `repos` jobs: what the bot says to one person after the ack.

- `reply`: a handler's answer (a refusal, usage help, a follow-up's note in its thread), recorded
  with the request and sent by the runner, inside Slack's limits.
- `notice`: a job ended dead; its person is told once, in words they understand: in the request's
  status message when it has one, else only to them in the thread (by DM in a DM, or when the
  channel is gone); a result that could not be posted goes to its requester by DM, with why.
  Ephemeral messages cannot be read back, so one cut off by a crash is sent again.
- `repos`: the organization's repositories fetched from Codegen, to warm the cache that menus and
  checks read, or for `/codegen repos` when the list is not cached, answered through the
  command's response_url.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.announce import dm_result
from bot.codegen import CodegenError
from bot.jobs import JobKind, Outcome
from bot.membership import OUTSIDER_OF
from bot.render.config import repos_text
from bot.render.messages import SlackMessage, error_text
from bot.repos import RepoDirectory
from bot.slack_errors import is_gone
from bot.slack_out import SlackOut
from storage.job_kinds import NOTICE, REPLY, REPOS
from storage.ports import RequestReader, RunReader
from storage.records import Job, Request


def reply_kinds(slack: SlackOut, repos: RepoDirectory, runs: RunReader) -> list[JobKind]:
    """The `reply`, `notice` and `repos` job kinds."""

    def say(job: Job) -> Outcome | None:
        tell(slack, job.payload)
        return None

    def notify(job: Job) -> Outcome | None:
        run = runs.get_run(int(job.payload["run_id"])) if job.payload.get("run_id") else None
        if run is not None:  # a result that could not be posted: its requester gets it by DM
            dm_result(slack, run, str(job.payload["text"]))
        else:
            tell(slack, job.payload)
        return None

    def list_repos(job: Job) -> Outcome | None:
        if not job.payload.get("response_url"):  # only warming the cache for menus and checks
            repos.all()
            return None
        try:
            text = repos_text([repo.full_name for repo in repos.all()])
        except CodegenError as exc:
            text = error_text(f"Couldn't list the repositories: {exc.user_message}")
        slack.respond(str(job.payload["response_url"]), text)
        return None

    return [JobKind(REPLY, say), JobKind(NOTICE, notify), JobKind(REPOS, list_repos)]


def requester_notice(
    store: RequestReader, describe: Callable[[Request, str], str], *, in_status_message: bool = False
) -> Callable[[Job, str], dict[str, object] | None]:
    """A `JobKind.notice` for jobs of a request: tells its requester `describe(request, reason)`, in
    the request's thread (in its status message, with `in_status_message`, when it has one)."""

    def notice(job: Job, reason: str) -> dict[str, object] | None:
        request = store.get_request(job.request_id or 0)
        if request is None:
            return None
        say: dict[str, object] = {
            "user": request.user,
            "channel": request.channel,
            "thread_ts": request.thread_ts or None,
            "text": error_text(describe(request, reason)),
        }
        if in_status_message:
            say["status_ts"] = request.status_ts
        return say

    return notice


def tell(slack: SlackOut, say: dict[str, Any]) -> None:
    """Show `say["text"]` to `say["user"]`: in the message `status_ts` when given, posted in the
    thread when `visible`, else privately (with `say["blocks"]`, if any); by DM when there is no place
    (a Home tab) or it is gone. An outsider's refusal (`outsider_team`) names their team when Slack
    says its name."""
    channel, user, text = str(say.get("channel") or ""), str(say["user"]), str(say["text"])
    thread_ts = say.get("thread_ts") or None
    blocks = say.get("blocks") or None
    team = say.get("outsider_team")
    name = slack.name_of_team(str(team)) if team else None
    if name:
        text = error_text(OUTSIDER_OF.format(team=name))  # escaped there
    try:
        if not channel:
            slack.direct_message(user, SlackMessage(text=text, blocks=[]))
        elif say.get("status_ts"):
            slack.update(channel, str(say["status_ts"]), SlackMessage(text=text, blocks=[]))
        elif say.get("visible"):
            slack.post(channel, SlackMessage(text=text, blocks=[]), thread_ts=thread_ts)
        else:
            slack.ephemeral(channel, user, text, thread_ts=thread_ts, blocks=blocks)
    except SlackApiError as exc:
        if not is_gone(exc):
            raise
        slack.direct_message(user, SlackMessage(text=text, blocks=[]))
