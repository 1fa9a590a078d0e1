"""`prompt_group` jobs: one prompt sent to several repositories (`repo=a/x,a/y`, `repo=a/*`, or several
picked in the form) becomes one create request per repository, followed on one parent message.

The job, in order:
1. expands the repositories asked for (fnmatch patterns over the organization's repositories, from
   RepoDirectory, which may ask Codegen) and refuses, privately, more than `max_repos`, an unknown
   repository, a pattern that matches none, or more runs than the requester's hourly cap leaves;
2. posts the parent message (found again by its metadata after a crash) with every repository queued;
3. records one ordinary create request per repository, in the order asked: they wait in the create
   queue like any other, and each run gets its own status message and thread;
4. then every GROUP_REFRESH_SECONDS edits the parent's table when what it shows changed, and once
   every repository is done posts the summary in the parent's thread and ends.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from bot.clock import Clock
from bot.codegen import Repository
from bot.command_text import is_pattern
from bot.jobs import Again, JobKind, Outcome, RetryPolicy
from bot.render.groups import group_message, group_summary, row_done
from bot.render.messages import error_text
from bot.replies import tell
from bot.repos import RepoDirectory, UnknownRepository, find_repository
from bot.slack_out import SlackOut
from storage.job_kinds import GROUP
from storage.ports import PromptGroupPort
from storage.records import GroupRow, Job, PromptGroup

GROUP_REFRESH_SECONDS = 3.0
GROUP_POLICY = RetryPolicy(max_attempts=50, base_seconds=1.0, max_seconds=120.0)


@dataclass
class GroupDeps:
    """What prompt-group jobs talk to; `max_repos`: CODEGEN_SLACK_MAX_REPOS_PER_PROMPT; `hourly_cap`:
    CODEGEN_SLACK_RUNS_PER_USER_PER_HOUR (0: none)."""

    store: PromptGroupPort
    slack: SlackOut
    repos: RepoDirectory
    clock: Clock
    max_repos: int
    hourly_cap: int = 0


def group_kind(deps: GroupDeps) -> JobKind:
    """The `prompt_group` job kind."""
    job = PromptGroupJob(deps)
    return JobKind(GROUP, job.handle, policy=GROUP_POLICY, notice=job.notice)


def expand_repositories(patterns: list[str], repos: list[Repository], max_repos: int) -> list[str] | str:
    """The full names of the repositories `patterns` name, in order and each once (a pattern's matches
    sorted by name), or why not, as mrkdwn: an unknown repository (with what would work), a pattern
    matching none, more than `max_repos`."""
    names = [repo.full_name for repo in repos]
    chosen: dict[str, None] = {}
    for pattern in patterns:
        if is_pattern(pattern):
            matched = sorted(n for n in names if fnmatch.fnmatchcase(n.lower(), pattern.lower()))
            if not matched:
                return f"No repository of the Codegen organization matches `{pattern}`."
            chosen.update(dict.fromkeys(matched))
            continue
        try:
            chosen[find_repository(repos, pattern).full_name] = None
        except UnknownRepository as exc:
            return str(exc)
    if len(chosen) > max_repos:
        return (
            f"That is {len(chosen)} repositories; one prompt may go to at most {max_repos}"
            " (CODEGEN_SLACK_MAX_REPOS_PER_PROMPT). Name fewer, or a narrower pattern."
        )
    return list(chosen)


class PromptGroupJob:
    """Expands, starts and follows one prompt group (see the module docstring)."""

    def __init__(self, deps: GroupDeps) -> None:
        self.d = deps

    def handle(self, job: Job) -> Outcome | None:
        group = self.d.store.prompt_group(int(job.payload["group"]))
        if group is None or group.closed:
            return None
        if not self.d.store.group_rows(group.id):
            refused = self._start(group, retrying=job.attempts > 0)
            if refused:
                say = {"channel": group.channel, "user": group.requester, "text": f":warning: {refused}"}
                tell(self.d.slack, say)
                self.d.store.update_prompt_group(group.id, closed=1)
                return None
            group = self.d.store.prompt_group(group.id) or group
        return self._follow(group)

    def notice(self, job: Job, reason: str) -> dict[str, object] | None:
        """The requester is told privately when the group is given up."""
        group = self.d.store.prompt_group(int(job.payload["group"]))
        if group is None:
            return None
        text = error_text(f"Couldn't send your prompt to several repositories: {reason}")
        return {"user": group.requester, "channel": group.channel, "thread_ts": group.status_ts, "text": text}

    def _start(self, group: PromptGroup, *, retrying: bool) -> str | None:
        """Expand, post the parent message, record the creates; returns a refusal, as mrkdwn (None:
        started)."""
        repos = expand_repositories(list(group.patterns), self.d.repos.all(), self.d.max_repos)
        if isinstance(repos, str):
            return repos
        now = self.d.clock.now()
        if self.d.hourly_cap:
            started = self.d.store.count_creates_since(group.requester, now - 3600.0, besides_group=group.id)
            if started + len(repos) > self.d.hourly_cap:
                return (
                    f"That would be {len(repos)} runs; you've started {started} in the last hour and the most"
                    f" allowed per person is {self.d.hourly_cap}. Name fewer repositories, or try later."
                )
        queued = [GroupRow(repo, 0, "pending") for repo in repos]
        if group.channel.startswith("C"):
            self.d.slack.join(group.channel)  # replies in the parent's thread reach the bot
        ts = self.d.slack.post_once(
            group.channel, group_message(group, queued), retrying=retrying,
            match={"group_id": group.id, "part": "parent"}, since=group.created_at,
        )  # fmt: skip
        self.d.store.update_prompt_group(group.id, status_ts=ts)
        for position, repo in enumerate(repos):
            key = f"{GROUP}:{group.id}:{repo}"
            self.d.store.add_request(
                key=key, kind="create", channel=group.channel, user=group.requester, prompt=group.prompt,
                now=now, options={**group.options, "repo": repo, "group_id": group.id},
            )  # fmt: skip
            self.d.store.add_group_member(group.id, key, repo, position)
        return None

    def _follow(self, group: PromptGroup) -> Outcome | None:
        """Edit the table when it changed; after the last repository, the summary, once."""
        rows = self.d.store.group_rows(group.id)
        message = group_message(group, rows)
        if group.status_ts and message.text != group.shown:
            self.d.slack.update(group.channel, group.status_ts, message)
            self.d.store.update_prompt_group(group.id, shown=message.text)
        if not all(map(row_done, rows)):
            return Again(GROUP_REFRESH_SECONDS)
        summary = group_summary(group, rows)
        ts = self.d.slack.post_once(
            group.channel, summary, thread_ts=group.status_ts, retrying=True,
            match={"group_id": group.id, "part": "summary"},
        )  # fmt: skip
        self.d.store.update_prompt_group(group.id, summary_ts=ts, closed=1)
        return None
