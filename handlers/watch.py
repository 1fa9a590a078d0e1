"""Watch rules: `/codegen watch add|list|remove` (admins change them), and channel messages (alerts, CI
posts, other apps' and bots' messages) checked against the channel's rules before the ack.

A message a rule matches is recorded with its `watch` job (storage/watches.py decides: a run, a link
to the run already on the same alert, or the hourly cap); bot/watch_jobs.py does the rest."""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import BoltContext

from bot.render.messages import error_text
from bot.render.triggers import watch_added_text, watch_list_text
from bot.trigger_commands import WatchCommand
from bot.watch_rules import (
    TEMPLATE_MAX_CHARS,
    BadPattern,
    compile_pattern,
    fingerprint,
    from_source,
    is_watched,
    watched_text,
)
from handlers.config import ONLY_ADMINS
from handlers.context import HandlerContext
from handlers.repositories import repository_problem
from storage.audit import REFUSED, WATCH

log = logging.getLogger("codegen_slack.handlers")


def answer_watch(ctx: HandlerContext, command: WatchCommand, *, user: str, channel: str) -> str:
    """The ephemeral reply to a watch command; adding and removing rules is for admins."""
    if command.action == "list":
        return watch_list_text(channel, ctx.store.watch_rules(channel), ctx.watch_runs_per_hour)
    if not ctx.is_admin(user):
        tried = f"remove rule {command.number}" if command.action == "remove" else "add a rule"
        ctx.record_audit(user, WATCH, channel=channel, outcome=REFUSED, detail=f"{tried}: not an admin")
        return error_text(ONLY_ADMINS)
    if command.action == "remove":
        assert command.number is not None
        audit = ctx.audit(user, WATCH, channel=channel, detail=f"rule {command.number} removed")
        if not ctx.store.remove_watch_rule(channel, command.number, audit=audit):
            return error_text(
                f"This channel has no watch rule {command.number}; /codegen watch list shows it."
            )
        return f"Watch rule {command.number} removed."
    try:
        _compiled(command.pattern)
    except BadPattern as exc:
        return error_text(str(exc))
    problem = repository_problem(ctx, command.repo) if command.repo else None
    if problem:
        return error_text(problem)
    if command.template and len(command.template) > TEMPLATE_MAX_CHARS:
        return error_text(f"Keep prompt= under {TEMPLATE_MAX_CHARS:,} characters.")
    rule = ctx.store.add_watch_rule(
        channel, pattern=command.pattern, source=command.source, repo=command.repo,
        template=command.template, user=user, now=ctx.clock.now(),
        audit=ctx.audit(user, WATCH, channel=channel, detail=_rule_detail(command)),
    )  # fmt: skip
    return watch_added_text(rule, ctx.watch_runs_per_hour)


def _rule_detail(command: WatchCommand) -> str:
    """What a new rule is, for the audit trail: its pattern and options (a prompt only by its length)."""
    detail = f"pattern {command.pattern!r}"
    if command.source:
        detail += f", from={command.source}"
    if command.repo:
        detail += f", repo={command.repo}"
    if command.template:
        detail += f", prompt of {len(command.template)} characters"
    return detail


def check_message(
    ctx: HandlerContext, event: dict[str, Any], body: dict[str, Any], context: BoltContext
) -> None:
    """Record what the channel's first matching rule owes this message, if any rule matches it."""
    channel, ts = event.get("channel"), event.get("ts")
    if not channel or not ts or not is_watched(event, context.bot_user_id, context.bot_id):
        return
    if _from_outsider(event, body):
        return
    rules = ctx.store.watch_rules(channel)
    if not rules:
        return
    text = watched_text(event)
    for rule in rules:
        if not from_source(event, rule.source) or not _matches(rule.pattern, text):
            continue
        payload = {"text": text, "user": rule.created_by, "repo": rule.repo, "template": rule.template}
        recorded = ctx.store.record_watch_match(
            rule, str(ts), fingerprint=fingerprint(text), now=ctx.clock.now(),
            runs_per_hour=ctx.watch_runs_per_hour, payload=payload,
        )  # fmt: skip
        if recorded is not None:
            ctx.wake()
        return


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    return compile_pattern(pattern)


def _matches(pattern: str, text: str) -> bool:
    """Whether a rule's pattern is found in `text` (a stored pattern this version refuses never is)."""
    try:
        return bool(_compiled(pattern).search(text))
    except BadPattern as exc:
        log.warning("a watch rule's pattern is skipped: %s", exc)
        return False


def _from_outsider(event: dict[str, Any], body: dict[str, Any]) -> bool:
    """A person of another company (Slack Connect) does not get to start runs through a rule."""
    team = event.get("user_team")
    return bool(event.get("user")) and not event.get("bot_id") and bool(team) and team != body.get("team_id")
