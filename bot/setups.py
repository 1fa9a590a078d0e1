"""`setup` jobs: `/codegen setup <repo> [hint]` asks Codegen to work out a repository's setup commands.

Codegen answers "Generate Setup Commands" (`POST …/setup-commands/generate`, 5 a minute) with the id
of an agent run; from then on it is followed like any run: the same status card, progress, result and
follow-ups in its thread. A setup job is only claimed while that limit has room (its gate), one at a
time and in order (the kind is exclusive, like creates), so the sixth request of a minute waits for a
slot instead of being refused. It is a create job in every
other way (bot/creates.py): the status message first, the requester told when it fails for good.

The call has no idempotency key. An attempt that may have reached Codegen (its answer was lost) is
noted first; the next attempt looks for a setup run made since the request that the bot does not
know yet, and takes it instead of starting a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.codegen import AgentRun
from bot.codegen.run_calls import CLOCK_SKEW_SECONDS
from bot.creates import CreateDeps, CreateJob
from bot.jobs import JobKind
from bot.replies import requester_notice
from storage.database import CREATE_STEP
from storage.job_kinds import SETUP
from storage.records import Request

SETUP_SOURCE = "SETUP_COMMANDS"  # the source type of the runs Codegen starts for setup commands


def setup_kind(deps: CreateDeps, on_started: Callable[[], None]) -> JobKind:
    """The `setup` job kind; `on_started()` hears that a run was made (the watcher checks it soon)."""
    job = SetupJob(deps, on_started)
    notice = requester_notice(
        deps.store,
        lambda request, reason: f"Couldn't start the setup commands: {reason}",
        in_status_message=True,
    )
    # exclusive, like creates: first come first served, and never two waiting on the limit's last slot
    gate = deps.limits.setup_commands.wait_time
    return JobKind(SETUP, job.handle, gate=gate, exclusive=True, notice=notice)


def setup_prompt(repo: str, hint: str) -> str:
    """What the card quotes for a setup request."""
    return f"Generate setup commands for {repo}" + (f": {hint}" if hint else "")


class SetupJob(CreateJob):
    """A create job whose run is Codegen's setup-command agent for the request's repository."""

    def _prompt(self, request: Request) -> str:
        return str(request.options.get("hint") or "")

    def _start(self, request: Request, prompt: str, repo_id: int | None) -> AgentRun:
        assert repo_id is not None  # the handler only records a setup for a known repository
        if self.d.store.note_step(request.id, CREATE_STEP):
            found = self._made_earlier(request)
            if found is not None:
                return found
        made = self.d.codegen.generate_setup_commands(repo_id, prompt or None)
        return AgentRun(
            id=made.agent_run_id, organization_id=self.d.codegen.org_id, status=made.status, web_url=made.url
        )

    def _made_earlier(self, request: Request) -> AgentRun | None:
        """A setup run an earlier attempt may have made: the newest one since the request (less clock
        skew) that no stored run is."""
        page = self.d.codegen.list_runs(source_type=SETUP_SOURCE, limit=20)
        since = request.created_at - CLOCK_SKEW_SECONDS
        for run in page.items:
            if _created_at(run) >= since and self.d.store.get_run(run.id) is None:
                return run
        return None


def _created_at(run: AgentRun) -> float:
    try:
        return datetime.fromisoformat(run.created_at or "").timestamp()
    except ValueError:
        return 0.0
