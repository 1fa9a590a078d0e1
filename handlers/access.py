"""Who may use the bot where: a global Bolt middleware that refuses, politely and privately, people
outside the allow lists, outsiders (Slack Connect) and guests (see bot.membership)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.codegen_members import MembersUnknown, membership_refusal
from bot.membership import (
    AUDIT_REASONS,
    OUTSIDER,
    AccessRules,
    Home,
    member_refusal,
    needs_record,
    payload_team,
    settled_by_payload,
)
from bot.render.messages import error_text
from bot.user_names import LookupDeferred
from handlers.context import HandlerContext
from handlers.events import follow_up_target, is_human_message
from handlers.reactions import is_trigger
from storage.audit import REFUSED

log = logging.getLogger("codegen_slack.handlers")

NOT_ALLOWED_USER = "You're not on the list of people who may use the Codegen bot here. Ask a workspace admin."
NOT_ALLOWED_CHANNEL = "The Codegen bot isn't enabled in this channel. Ask a workspace admin, or DM the bot."
# Interactive payloads that act for a person; others (view_closed…) change nothing.
ACTING_PAYLOADS = frozenset(
    {"block_actions", "view_submission", "message_action", "shortcut", "block_suggestion"}
)

# Each refusal's reason as the audit trail records it.
WHY = {
    **AUDIT_REASONS,
    NOT_ALLOWED_USER: "not in CODEGEN_SLACK_ALLOWED_USERS",
    NOT_ALLOWED_CHANNEL: "channel not in CODEGEN_SLACK_ALLOWED_CHANNELS",
}
ACK_WAIT_SECONDS = 1.0  # of Slack's 3 s to answer, what a member lookup may wait for room in its limit


def refusal(
    context: BoltContext, allowed_users: frozenset[str], allowed_channels: frozenset[str]
) -> str | None:
    """Why this request is refused, or None when the user may use the bot in this channel."""
    if allowed_users and context.user_id not in allowed_users:
        return NOT_ALLOWED_USER
    channel = context.channel_id or ""
    if allowed_channels and channel and not channel.startswith("D") and channel not in allowed_channels:
        return NOT_ALLOWED_CHANNEL
    return None


def register(
    app: App,
    ctx: HandlerContext,
    allowed_users: frozenset[str],
    allowed_channels: frozenset[str],
    rules: AccessRules,
) -> None:
    """Refuse requests from users or channels outside the allow lists (when lists are set), and from
    outsiders and guests unless `rules` allow them."""

    @app.middleware
    def check_access(
        body: dict[str, Any], context: BoltContext, next: Callable[[], None]
    ) -> BoltResponse | None:
        if not _acts(ctx, body, context):
            if body.get("event") and refusal(context, allowed_users, allowed_channels):
                return BoltResponse(status=200, body="")  # ignored silently, as before anyone asked
            next()
            return None
        reason = refusal(context, allowed_users, allowed_channels) or _membership(ctx, rules, body, context)
        if reason is None:
            next()
            return None
        team = _audit_refusal(ctx, body, context, reason)
        return _refuse(ctx, body, context, reason, team)


def _acts(ctx: HandlerContext, body: dict[str, Any], context: BoltContext) -> bool:
    """Whether the request asks the bot to do something: a command, a mention, a DM, a follow-up in a
    run's thread, the trigger emoji (CODEGEN_SLACK_TRIGGER_EMOJI), or a button, form or shortcut. Other
    events (channel chatter, other reactions) pass unchecked."""
    if body.get("command"):
        return True
    event = body.get("event")
    if isinstance(event, dict):
        if event.get("type") == "reaction_added":
            return is_trigger(ctx, event)
        return _addressed_to_bot(ctx, event, context)
    return body.get("type") in ACTING_PAYLOADS


def _membership(
    ctx: HandlerContext, rules: AccessRules, body: dict[str, Any], context: BoltContext
) -> str | None:
    """OUTSIDER, GUEST or UNCHECKED for a person the rules do not let in, and with the membership gate
    NOT_A_MEMBER or NO_EMAIL, else None: from the payload when it settles it, else from the person's
    users.info record (cached) and the Codegen member list as it is (never fetched here)."""
    authorized = context.authorize_result
    home = Home(
        authorized.team_id if authorized else context.team_id,
        authorized.enterprise_id if authorized else context.enterprise_id,
    )
    team = payload_team(body)
    settled = settled_by_payload(rules, home, team)
    gate = ctx.codegen_members
    needed = needs_record(rules, home, team) or gate is not None
    if settled or not needed or ctx.members is None or not context.user_id:
        return settled
    try:
        record = ctx.members.member(context.user_id, max_wait=ACK_WAIT_SECONDS)
    except LookupDeferred:  # no time to ask Slack now: the create or resume job asks before it acts
        log.info("%s is checked when their request's job runs (users.info's limit is full)", context.user_id)
        return None
    refused = member_refusal(rules, home, record)
    if refused or gate is None or record is None:
        return refused
    try:
        return membership_refusal(gate, record, may_refresh=False)
    except MembersUnknown:  # the member list is not fresh enough to say no: the job that acts decides
        return None


def _refuse(
    ctx: HandlerContext, body: dict[str, Any], context: BoltContext, reason: str, team: str | None
) -> BoltResponse:
    """Tell the person why (`reason`) where they asked, privately (by DM from a Home tab), and answer
    Slack without running a handler. An outsider's refusal names `team` when Slack says its name."""
    user, channel, text = context.user_id, context.channel_id, error_text(reason)
    if body.get("command"):
        return _json({"response_type": "ephemeral", "text": text})
    if body.get("type") == "view_submission":  # the form itself says why
        return _json({"response_action": "update", "view": _refusal_view(text)})
    if body.get("type") == "block_suggestion":
        return _json({"options": []})
    event = body.get("event") or {}
    key = f"refused:{channel}:{event.get('ts') or event.get('event_ts') or body.get('trigger_id') or ''}"
    thread_ts = event.get("thread_ts") or (body.get("container") or {}).get("thread_ts")
    if user:
        outsider_team = team if reason == OUTSIDER else None
        ctx.tell_privately(channel or "", user, text, thread_ts, key=key, outsider_team=outsider_team)
    return BoltResponse(status=200, body="")


def _audit_refusal(
    ctx: HandlerContext, body: dict[str, Any], context: BoltContext, reason: str
) -> str | None:
    """Record who was refused what, where, and why (the reason's short form, their team if known);
    returns that team."""
    user = context.user_id or "unknown"
    entry = ctx.audit(user, attempted(body), channel=context.channel_id, outcome=REFUSED)
    team = payload_team(body) or entry.team
    why = WHY.get(reason, reason)
    ctx.store.record_audit(**{**asdict(entry), "team": team, "detail": why})
    return team


def attempted(body: dict[str, Any]) -> str:
    """What a request tried, for the audit trail: command, mention, dm, follow_up, reaction:NAME, or
    button:ACTION_ID, form:CALLBACK_ID, shortcut:CALLBACK_ID, menu:ACTION_ID."""
    if body.get("command"):
        return "command"
    event = body.get("event")
    if isinstance(event, dict):
        if event.get("type") in ("app_mention", "reaction_added"):
            return "mention" if event["type"] == "app_mention" else f"reaction:{event.get('reaction')}"
        return "dm" if event.get("channel_type") == "im" else "follow_up"
    kind = body.get("type")
    if kind == "block_actions":
        return f"button:{(body.get('actions') or [{}])[0].get('action_id', '')}"
    if kind == "view_submission":
        return f"form:{(body.get('view') or {}).get('callback_id', '')}"
    if kind == "block_suggestion":
        return f"menu:{body.get('action_id', '')}"
    return f"shortcut:{body.get('callback_id', '')}"


def _refusal_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Codegen"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def _json(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": ["application/json"]})


def _addressed_to_bot(ctx: HandlerContext, event: dict[str, Any], context: BoltContext) -> bool:
    """A mention, a DM, or a reply in a run's thread: the person expects the bot to act (other
    channel chatter is left to the handlers, which ignore it)."""
    if not is_human_message(event, context.bot_user_id):
        return False
    if event.get("type") == "app_mention" or event.get("channel_type") == "im":
        return True
    return follow_up_target(ctx, str(event.get("channel") or ""), event.get("thread_ts")) is not None
