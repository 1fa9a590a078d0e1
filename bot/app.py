"""Builds the running bot: storage, clients, the Bolt app with its handlers, and the workers."""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import SecretStr
from slack_bolt import App

from bot.clock import Clock, SystemClock
from bot.codegen import CodegenClient, RateLimits
from bot.config import Settings
from bot.creates import CreateDeps, CreateWorker
from bot.health import CodegenHealth, health_report
from bot.home_refresh import HomeRefresher
from bot.images import ImageWorker
from bot.loop import Worker
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.progress import ProgressDeps, ProgressWorker
from bot.repos import RepoDirectory
from bot.resumes import ResumeDeps, ResumeWorker
from bot.slack_limits import SlackLimits
from bot.slack_out import SlackOut, make_web_client
from bot.watcher import Watcher
from handlers import access, actions, commands, events, home, modals, shortcuts
from handlers.context import HandlerContext
from storage.store import Store

log = logging.getLogger("codegen_slack.app")

HOUSEKEEPING_SECONDS = 3600.0


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
        self.codegen = CodegenClient(
            base_url=settings.codegen_api_base_url,
            token=settings.codegen_api_token.get_secret_value(),
            org_id=settings.codegen_org_id,
            limits=self.limits,
            clock=self.clock,
            timeout=settings.codegen_timeout_seconds,
            on_call=self.codegen_health.observe,
        )
        self.web = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        self.slack = SlackOut(self.web, on_call=self.metrics.slack_call, limits=SlackLimits(self.clock))
        self.watcher = Watcher(
            store=self.store,
            codegen=self.codegen,
            clock=self.clock,
            poll_seconds=settings.codegen_slack_poll_seconds,
            share=settings.codegen_slack_watcher_share,
            on_change=self._run_changed,
        )
        self.notifier = Notifier(
            store=self.store,
            slack=self.slack,
            clock=self.clock,
            on_announced=self.metrics.notification_latency.observe,
        )
        self.repos = RepoDirectory(self.codegen, self.clock)
        creates = CreateWorker(
            CreateDeps(
                store=self.store,
                codegen=self.codegen,
                limits=self.limits,
                slack=self.slack,
                repos=self.repos,
                clock=self.clock,
                creates_per_minute=settings.codegen_creates_per_minute,
            ),
            on_settled=self._wake_after_start,
        )
        resumes = ResumeWorker(
            ResumeDeps(store=self.store, codegen=self.codegen, slack=self.slack, clock=self.clock),
            on_resumed=self._wake_after_start,
        )
        self.workers = {
            "creates": Worker("creates", creates.step),
            "resumes": Worker("resumes", resumes.step),
            "watcher": Worker("watcher", self.watcher.step),
            "notifier": Worker("notifier", self.notifier.step),
            "housekeeping": Worker("housekeeping", self._housekeeping),
        }
        progress = ProgressDeps(
            store=self.store,
            codegen=self.codegen,
            slack=self.slack,
            clock=self.clock,
            poll_seconds=settings.codegen_slack_poll_seconds,
            share=settings.codegen_slack_watcher_share,
        )
        self.workers["progress"] = Worker(
            "progress", ProgressWorker(progress, on_progress=self.workers["notifier"].wake).step
        )
        images = ImageWorker(
            store=self.store,
            clock=self.clock,
            token=settings.slack_bot_token.get_secret_value(),
            api_url=settings.slack_api_url,
            on_ready=self._images_ready,
        )
        self.workers["images"] = Worker("images", images.step)
        homes = HomeRefresher(store=self.store, slack=self.slack, clock=self.clock)
        self.workers["home"] = Worker("home", homes.step)
        self.handler_context = HandlerContext(
            store=self.store,
            clock=self.clock,
            wake_creates=self.workers["creates"].wake,
            wake_resumes=self.workers["resumes"].wake,
            max_prompt_chars=settings.codegen_slack_max_prompt_chars,
            admin_users=settings.admin_users,
            resume_policy=settings.codegen_slack_resume_policy,
            runs_per_user_per_hour=settings.codegen_slack_runs_per_user_per_hour,
            repos=self.repos,
            wake_progress=self.workers["progress"].wake,
            wake_images=self.workers["images"].wake,
        )
        self.bolt = build_bolt_app(settings, self)

    def _housekeeping(self) -> float:
        """Forget Slack delivery ids older than any redelivery; runs hourly."""
        self.store.forget_old_events(self.clock.now())
        return HOUSEKEEPING_SECONDS

    def _images_ready(self) -> None:
        self.workers["creates"].wake()
        self.workers["resumes"].wake()

    def _run_changed(self, run_id: int) -> None:
        self.store.wake_resumes(run_id, self.clock.now())
        self.workers["resumes"].wake()
        self.workers["notifier"].wake()
        self.workers["home"].wake()

    def _wake_after_start(self) -> None:
        self.workers["resumes"].wake()  # replies written while the run was being made
        self.workers["notifier"].wake()
        self.workers["home"].wake()
        self.workers["watcher"].wake()
        self.workers["progress"].wake()

    def start(self) -> None:
        """Start the workers; anything left pending by an earlier process is picked up."""
        for worker in self.workers.values():
            worker.start()

    def stop(self, timeout: float = 8.0) -> None:
        """Let each worker finish its current step (up to `timeout` in all), then close connections."""
        for worker in self.workers.values():
            worker.stop()
        deadline = time.monotonic() + timeout
        stuck = [w.name for w in self.workers.values() if not w.join(max(0.0, deadline - time.monotonic()))]
        if stuck:
            log.warning("stopping without waiting for %s; unfinished work resumes at the next start", stuck)
            return
        self.codegen.close()
        self.store.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Each dependency's state, and whether all are fine (see bot.health.health_report)."""
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
    access.register(app, bot.handler_context, settings.allowed_users, settings.allowed_channels)
    commands.register(app, bot.handler_context)
    events.register(app, bot.handler_context)
    for surface in (actions, modals, shortcuts, home):
        surface.register(app, bot.handler_context)
    return app
