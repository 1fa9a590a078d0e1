"""Builds the running bot: storage, clients, the Bolt app with its handlers, and the workers."""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import SecretStr
from slack_bolt import App

from bot.announce import announce_kind
from bot.cards import card_kinds
from bot.clock import Clock, SystemClock
from bot.codegen import CodegenClient, RateLimits
from bot.config import Settings
from bot.create_queue import queue_kind
from bot.creates import CreateDeps, create_kind, refill_create_limiter
from bot.health import PROBE_SECONDS, CodegenHealth, health_report, probe_kind
from bot.home_refresh import home_kind
from bot.housekeeping import housekeeping_kind
from bot.images import images_kind
from bot.jobs import JobKind, Runner
from bot.loop import Worker
from bot.membership import requester_check
from bot.metrics import Metrics
from bot.pr_actions import PRActionDeps, pr_action_kind
from bot.progress import ProgressDeps, progress_kind
from bot.prompt_groups import GroupDeps, group_kind
from bot.prompts import OutsiderContext
from bot.replies import reply_kinds
from bot.repos import RepoDirectory
from bot.resumes import ResumeDeps, resume_kind
from bot.setups import setup_kind
from bot.slack_limits import SlackLimits
from bot.slack_out import SlackOut, make_web_client
from bot.steps import steps_kind
from bot.user_names import UserNames
from bot.watcher import Watcher
from handlers import access, actions, commands, events, home, modals, pr_actions, shortcuts
from handlers.context import HandlerContext
from storage.job_kinds import HOUSEKEEPING, PRIORITY, PROBE
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
        self.slack = SlackOut(self.web, on_call=self.metrics.slack_call, limits=SlackLimits(self.clock))
        self.repos = RepoDirectory(self.codegen, self.clock)
        self.members = UserNames(self.slack, self.clock)  # one users.info cache: names and who may ask
        self.runner = Runner(
            self.store,
            self.clock,
            self._job_kinds(settings),
            probe_slack=self.slack.token_works,
            on_dead=self.metrics.job_dead,
        )
        self.watcher = Watcher(
            store=self.store,
            codegen=self.codegen,
            clock=self.clock,
            poll_seconds=settings.codegen_slack_poll_seconds,
            share=settings.codegen_slack_watcher_share,
            on_change=lambda run_id: self.runner.wake(),
        )
        self.workers = {"watcher": Worker("watcher", self.watcher.step)}
        self.handler_context = HandlerContext(
            store=self.store,
            clock=self.clock,
            slack=self.slack,
            wake=self._wake,
            max_prompt_chars=settings.codegen_slack_max_prompt_chars,
            admin_users=settings.admin_users,
            resume_policy=settings.codegen_slack_resume_policy,
            runs_per_user_per_hour=settings.codegen_slack_runs_per_user_per_hour,
            repos=self.repos,
            members=self.members,
            max_repos_per_prompt=settings.codegen_slack_max_repos_per_prompt,
        )
        self.bolt = build_bolt_app(settings, self)

    def _job_kinds(self, settings: Settings) -> list[JobKind]:
        """Every kind of job this bot runs, with its handler."""
        check = requester_check(settings.access_rules, self.slack.workspace, self.members)
        create = CreateDeps(
            store=self.store, codegen=self.codegen, limits=self.limits, slack=self.slack, repos=self.repos,
            clock=self.clock, outsiders=lambda: self._outsider_context(settings), members=self.members,
            check_requester=check,
        )  # fmt: skip
        refill_create_limiter(self.store, self.limits, self.clock.now())
        token = settings.slack_bot_token.get_secret_value()
        progress = ProgressDeps(
            store=self.store, codegen=self.codegen, clock=self.clock,
            poll_seconds=settings.codegen_slack_poll_seconds, share=settings.codegen_slack_watcher_share,
        )  # fmt: skip
        return [
            create_kind(create, on_started=self._wake_watcher),
            queue_kind(create, settings.codegen_creates_per_minute),
            setup_kind(create, on_started=self._wake_watcher),
            resume_kind(
                ResumeDeps(
                    store=self.store, codegen=self.codegen, slack=self.slack, clock=self.clock,
                    members=self.members, check_requester=check,
                ),
                on_resumed=self._wake_watcher,
            ),
            steps_kind(self.store, self.codegen, self.slack),
            images_kind(self.store, self.clock, token, settings.slack_api_url),
            progress_kind(progress),
            announce_kind(self.store, self.slack, self.clock, self.metrics.notification_latency.observe),
            *card_kinds(self.store, self.slack, self.clock),
            home_kind(self.store, self.slack, self.clock),
            *reply_kinds(self.slack, self.repos, self.store),
            housekeeping_kind(self.store, self.clock),
            probe_kind(self.codegen),
            pr_action_kind(PRActionDeps(self.store, self.codegen, self.slack, self.clock)),
            group_kind(GroupDeps(
                self.store, self.slack, self.repos, self.clock, settings.codegen_slack_max_repos_per_prompt,
                settings.codegen_slack_runs_per_user_per_hour,
            )),
        ]

    def _outsider_context(self, settings: Settings) -> OutsiderContext:
        """Whose thread messages a prompt quotes as the team's: this workspace, its org, allowed teams."""
        trusted = self.slack.home_teams() | settings.access_rules.allowed_teams
        return OutsiderContext(trusted, quote=settings.codegen_slack_outsider_context == "quote")

    def _wake(self) -> None:
        self.runner.wake()

    def _wake_watcher(self) -> None:
        """A run was made or resumed: it is due for a check now."""
        self.workers["watcher"].wake()

    def start(self) -> None:
        """Start the runner and the watcher; anything left pending by an earlier process is picked up."""
        self.store.arm_job(HOUSEKEEPING, HOUSEKEEPING, now=self.clock.now(), priority=PRIORITY[HOUSEKEEPING])
        self.runner.start()
        for worker in self.workers.values():
            worker.start()

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
        self.codegen.close()
        self.store.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Each dependency's state, and whether all are fine (see bot.health.health_report). While
        Codegen's last answer refused the token, a `probe` job asks again (at most every
        PROBE_SECONDS), so a refusal that has passed does not keep the bot unhealthy while idle."""
        now = self.clock.now()
        if self.codegen_health.auth_error and now - self._probed_at >= PROBE_SECONDS:
            self._probed_at = now
            self.store.arm_job(PROBE, PROBE, now=now, priority=PRIORITY[PROBE])
            self.runner.wake()
        return health_report(self.store.health(), self.slack.health.auth_error, self.codegen_health)


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
    for surface in (actions, modals, shortcuts, home, pr_actions):
        surface.register(app, bot.handler_context)
    return app
