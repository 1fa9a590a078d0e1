"""Builds the running bot: storage, clients, the Bolt app with its handlers, and the workers."""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import SecretStr
from slack_bolt import App

from bot.clock import Clock, SystemClock
from bot.codegen import CodegenClient, RateLimits
from bot.codegen_members import CodegenMembers
from bot.config import Settings
from bot.creates import refill_create_limiter
from bot.health import PROBE_SECONDS, CodegenHealth, health_report
from bot.job_kinds import job_kinds
from bot.jobs import Runner
from bot.leader import Leadership, LimitHandoff, process_name
from bot.loop import Worker
from bot.membership import requester_check
from bot.metrics import Metrics
from bot.repos import RepoDirectory
from bot.shared_limit import SharedWindow
from bot.slack_calls import make_web_client
from bot.slack_limits import METHOD_LIMITS, PER_MINUTE, SlackLimits
from bot.slack_out import SlackOut
from bot.user_names import USERS_INFO, UserNames
from bot.watcher import Watcher
from handlers import (
    access,
    actions,
    commands,
    events,
    home,
    links,
    modals,
    pr_actions,
    reactions,
    run_controls,
    shortcuts,
)
from handlers.context import HandlerContext
from storage.dialect import SQLITE
from storage.file_lock import AnotherProcess, FileLock, hold_file_lock
from storage.job_kinds import CODEGEN_MEMBERS, HOUSEKEEPING, PRIORITY, PROBE, SCHEDULES
from storage.leases import MIGRATED_TO, Lease
from storage.store import Store

log = logging.getLogger("codegen_slack.app")


class Bot:
    """Everything that runs in one process; `start()` begins background work, `stop()` drains it."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = Store(settings.codegen_slack_db)
        self.metrics = Metrics(self.store)
        self.limits = RateLimits.from_counts(
            creates_per_minute=settings.codegen_creates_per_minute,
            calls_per_30s=settings.codegen_calls_per_30s,
            log_calls_per_minute=settings.codegen_log_calls_per_minute,
            clock=self.clock,
        )
        self.codegen_health = CodegenHealth(self.clock, then=self.metrics.codegen_call)
        self._probed_at = 0.0
        self.codegen = CodegenClient(
            base_url=settings.codegen_api_base_url,
            token=settings.codegen_api_token.get_secret_value(),
            org_id=settings.codegen_org_id,
            limits=self.limits,
            clock=self.clock,
            timeout=settings.codegen_timeout_seconds,
            max_attempts=1,  # a failed call becomes "retry after N" for the job runner, never a sleep
            on_call=self.codegen_health.observe,
        )
        self.web = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        self.slack = SlackOut(self.web, on_call=self.metrics.slack_call, limits=self._slack_limits())
        self.repos = RepoDirectory(self.codegen, self.clock)
        self.members = UserNames(self.slack, self.clock)  # one users.info cache: names and who may ask
        self.owner = process_name()
        self._file_lock = FileLock(None)
        self.leadership = Leadership(
            self.store,
            self.clock,
            self.owner,
            LimitHandoff(
                windows=lambda: {**self.limits.windows(), **self.slack.limits.windows()},
                window=lambda name: self.limits.windows().get(name) or self.slack.limits.window(name),
            ),
            self._lead,
            force=self.store.dialect is SQLITE,  # one process per file: start() holds the file's lock
            listen_url=None if self.store.dialect is SQLITE else settings.codegen_slack_db,
            on_work=self._wake,
        )
        # The membership gate: the Codegen organization's members, by email (None when it is off).
        gated = settings.codegen_slack_require_codegen_member
        self.codegen_members = CodegenMembers(self.codegen, self.clock, self.store) if gated else None
        # What a job asks before it acts for someone (starts a run, follows up, acts on a PR): None to
        # go on, else the refusal; see bot.membership.requester_check and requester_outcome.
        self.check_requester = requester_check(
            settings.access_rules, self.slack.workspace, self.members, self.codegen_members
        )
        self.runner = Runner(
            self.store,
            self.clock,
            job_kinds(self, settings),
            probe_slack=self.slack.token_works,
            on_dead=self.metrics.job_dead,
            owner=self.owner,
            leading=lambda: self.leadership.leading,
        )
        self.watcher = Watcher(
            store=self.store,
            codegen=self.codegen,
            clock=self.clock,
            poll_seconds=settings.codegen_slack_poll_seconds,
            share=settings.codegen_slack_watcher_share,
            on_change=lambda run_id: self.runner.wake(),
        )
        self.workers = {"watcher": Worker("watcher", self._watch)}
        self.handler_context = HandlerContext(
            store=self.store,
            clock=self.clock,
            slack=self.slack,
            wake=self._recorded,
            max_prompt_chars=settings.codegen_slack_max_prompt_chars,
            admin_users=settings.admin_users,
            resume_policy=settings.codegen_slack_resume_policy,
            runs_per_user_per_hour=settings.codegen_slack_runs_per_user_per_hour,
            repos=self.repos,
            members=self.members,
            codegen_members=self.codegen_members,
            unfurl_domain=settings.codegen_slack_unfurl_domain,
            watch_runs_per_hour=settings.codegen_slack_watch_runs_per_hour,
            trigger_emoji=settings.codegen_slack_trigger_emoji,
            max_repos_per_prompt=settings.codegen_slack_max_repos_per_prompt,
        )
        self.bolt = build_bolt_app(settings, self)

    def _slack_limits(self) -> SlackLimits:
        """Slack's limits on our side; users.info, called by every replica before its ack (who is
        asking), is counted in the database when replicas share one (see bot/shared_limit.py)."""
        if self.store.dialect is SQLITE:
            return SlackLimits(self.clock)
        users_info = SharedWindow(self.store, USERS_INFO, METHOD_LIMITS[USERS_INFO], PER_MINUTE, self.clock)
        return SlackLimits(self.clock, shared={USERS_INFO: users_info})

    def _wake(self) -> None:
        self.runner.wake()

    def _recorded(self) -> None:
        """A handler recorded work: the leader runs it, here or on another replica."""
        if self.leadership.leading:
            self.runner.wake()
        else:
            self.store.notify_work()

    def _watch(self) -> float | None:
        """The watcher's sweep, on the leader only (it is woken when this process becomes leader)."""
        return self.watcher.step() if self.leadership.leading else None

    def _lead(self, lease: Lease) -> None:
        """This process just became leader: take over what the last one was doing."""
        now = self.clock.now()
        released = self.store.release_jobs_of_others(self.owner, now)
        if released:
            log.info("%d job(s) cut off by the last leader's stop will run again", released)
        refill_create_limiter(self.store, self.limits, now)
        self.runner.wake()
        self.wake_watcher()

    def wake_watcher(self) -> None:
        """A run was made or resumed: it is due for a check now."""
        self.workers["watcher"].wake()

    def hold_database(self) -> None:
        """Make sure no other process serves this SQLite file (a no-op on PostgreSQL, and once held).
        Raises AnotherProcess when one does, or when migrate-db moved the file's data elsewhere."""
        if self.store.dialect is SQLITE and self._file_lock.released:
            moved_to = self.store.marker(MIGRATED_TO)
            if moved_to is not None:
                raise AnotherProcess(
                    f"its data was moved to {moved_to} by migrate-db: set CODEGEN_SLACK_DB to that URL."
                    " Serving this file again would repeat what the bot did since (to go back to it"
                    " anyway: codegen-slack migrate-db --release)"
                )
            self._file_lock = hold_file_lock(self.settings.codegen_slack_db)

    def start(self) -> None:
        """Start the runner and the watcher, which work while this process leads; anything left
        pending by an earlier process is picked up. Raises AnotherProcess when another process
        already serves this SQLite file."""
        self.hold_database()
        self.arm_recurring_jobs()
        self.leadership.start()
        self.runner.start()
        for worker in self.workers.values():
            worker.start()

    def arm_recurring_jobs(self) -> None:
        """Make the recurring jobs due now: housekeeping, the check for due schedules (those that came
        due while the bot was down fire now, once each), and with the membership gate the member list."""
        now = self.clock.now()
        self.store.arm_job(HOUSEKEEPING, HOUSEKEEPING, now=now, priority=PRIORITY[HOUSEKEEPING])
        self.store.arm_job(SCHEDULES, SCHEDULES, now=now, priority=PRIORITY[SCHEDULES])
        if self.codegen_members is not None:
            self.store.arm_job(CODEGEN_MEMBERS, CODEGEN_MEMBERS, now=now, priority=PRIORITY[CODEGEN_MEMBERS])

    def stop(self, timeout: float = 8.0) -> None:
        """Let each job and the watcher finish what they do (up to `timeout` in all), then close
        connections."""
        self.runner.stop()
        for worker in self.workers.values():
            worker.stop()
        deadline = time.monotonic() + timeout
        stuck = [w.name for w in self.workers.values() if not w.join(max(0.0, deadline - time.monotonic()))]
        if not self.runner.join(max(0.0, deadline - time.monotonic())):
            stuck.append("jobs")
        if stuck:
            log.warning("stopping without waiting for %s; unfinished work resumes at the next start", stuck)
            return
        self.leadership.stop()  # after the work: the windows handed over count its last calls
        self.leadership.join(max(0.0, deadline - time.monotonic()))
        self.codegen.close()
        self.store.close()
        self._file_lock.release()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Each dependency's state, and whether all are fine (see bot.health.health_report), and
        whether this process leads (runs the background work; one replica does). While Codegen's
        last answer refused the token, a `probe` job asks again (at most every PROBE_SECONDS), so a
        refusal that has passed does not keep the bot unhealthy while idle."""
        now = self.clock.now()
        if self.codegen_health.auth_error and now - self._probed_at >= PROBE_SECONDS:
            self._probed_at = now
            self.store.arm_job(PROBE, PROBE, now=now, priority=PRIORITY[PROBE])
            self.runner.wake()
        healthy, state = health_report(self.store.health(), self.slack.health.auth_error, self.codegen_health)
        return healthy, {**state, "leader": self.leadership.leading}


def build_bolt_app(settings: Settings, bot: Bot) -> App:
    """The Bolt app: verifies Slack's signatures and routes each surface to its handler module."""
    app = App(
        client=bot.web,
        # Socket Mode needs no signing secret: its requests come over the app token's socket.
        signing_secret=(settings.slack_signing_secret or SecretStr("")).get_secret_value(),
        process_before_response=True,
        token_verification_enabled=False,
    )
    access.register(
        app, bot.handler_context, settings.allowed_users, settings.allowed_channels, settings.access_rules
    )
    commands.register(app, bot.handler_context)
    events.register(app, bot.handler_context)
    for surface in (actions, modals, shortcuts, home, run_controls, links, reactions, pr_actions):
        surface.register(app, bot.handler_context)
    return app
