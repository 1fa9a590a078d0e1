"""The job kinds this bot runs, each given its handler and what that needs (their names and
priorities are in storage.job_kinds; the runner that runs them is bot.jobs)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from bot.announce import announce_kind
from bot.cards import card_kinds
from bot.codegen_members import members_kind
from bot.config import Settings
from bot.create_queue import queue_kind
from bot.creates import CreateDeps, create_kind
from bot.health import probe_kind
from bot.home_refresh import home_kind
from bot.housekeeping import housekeeping_kind
from bot.images import images_kind
from bot.jobs import JobKind
from bot.membership import requester_metadata
from bot.pr_actions import PRActionDeps, pr_action_kind
from bot.progress import ProgressDeps, progress_kind
from bot.prompt_groups import GroupDeps, group_kind
from bot.prompts import OutsiderContext
from bot.reaction_trigger import reaction_kind
from bot.replies import reply_kinds
from bot.resumes import ResumeDeps, resume_kind
from bot.schedules import schedule_kinds
from bot.sessions import session_kind
from bot.setups import setup_kind
from bot.steps import steps_kind
from bot.unfurls import unfurl_kind
from bot.watch_jobs import watch_kind
from handlers.intake import record_run_request

if TYPE_CHECKING:
    from bot.app import Bot


def job_kinds(bot: Bot, settings: Settings) -> list[JobKind]:
    """Every kind of job `bot` runs, each with its handler and what that needs."""
    check = bot.check_requester
    record_run = partial(_record_run, bot)
    create = CreateDeps(
        store=bot.store, codegen=bot.codegen, limits=bot.limits, slack=bot.slack, repos=bot.repos,
        clock=bot.clock, outsiders=lambda: _outsider_context(bot, settings), members=bot.members,
        check_requester=check,
        describe_requester=requester_metadata(bot.slack.workspace, bot.members, bot.codegen_members),
    )  # fmt: skip
    token = settings.slack_bot_token.get_secret_value()
    progress = ProgressDeps(
        store=bot.store, codegen=bot.codegen, clock=bot.clock,
        poll_seconds=settings.codegen_slack_poll_seconds, share=settings.codegen_slack_watcher_share,
    )  # fmt: skip
    return [
        create_kind(create, on_started=bot.wake_watcher),
        queue_kind(create, settings.codegen_creates_per_minute),
        setup_kind(create, on_started=bot.wake_watcher),
        resume_kind(
            ResumeDeps(
                store=bot.store, codegen=bot.codegen, slack=bot.slack, clock=bot.clock,
                members=bot.members, check_requester=check,
            ),
            on_resumed=bot.wake_watcher,
        ),
        steps_kind(bot.store, bot.codegen, bot.slack),
        images_kind(bot.store, bot.clock, token, settings.slack_api_url),
        progress_kind(progress),
        announce_kind(bot.store, bot.slack, bot.clock, bot.metrics.notification_latency.observe),
        *card_kinds(bot.store, bot.slack, bot.clock),
        session_kind(bot.store, bot.slack, bot.clock),
        unfurl_kind(bot.store, bot.codegen, bot.slack, settings.codegen_slack_unfurl_domain),
        home_kind(bot.store, bot.slack, bot.clock),
        *reply_kinds(bot.slack, bot.repos, bot.store),
        housekeeping_kind(bot.store, bot.clock, settings.codegen_slack_audit_retention_days),
        probe_kind(bot.codegen),
        *([members_kind(bot.codegen_members)] if bot.codegen_members else []),
        watch_kind(bot.slack, record_run, settings.codegen_slack_max_prompt_chars),
        reaction_kind(bot.slack, record_run, settings.codegen_slack_max_prompt_chars),
        *schedule_kinds(bot.store, bot.clock, record_run),
        pr_action_kind(PRActionDeps(bot.store, bot.codegen, bot.slack, bot.clock, check)),
        group_kind(GroupDeps(
            bot.store, bot.slack, bot.repos, bot.clock, settings.codegen_slack_max_repos_per_prompt,
            settings.codegen_slack_runs_per_user_per_hour,
        )),
    ]


def _record_run(bot: Bot, **request: Any) -> str | None:
    """Record a create request as handlers do (for jobs that start runs: watch rules and the like)."""
    return record_run_request(bot.handler_context, **request)


def _outsider_context(bot: Bot, settings: Settings) -> OutsiderContext:
    """Whose thread messages a prompt quotes as the team's: this workspace, its org, allowed teams."""
    trusted = bot.slack.home_teams() | settings.access_rules.allowed_teams
    return OutsiderContext(trusted, quote=settings.codegen_slack_outsider_context == "quote")
