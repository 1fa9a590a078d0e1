"""@mentions, DMs and thread replies: new runs, and follow-ups to the run a thread belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext

from bot.command_text import PRCommand, RunCommand, UsageError, parse_command, strip_bot_mention
from bot.images import IMAGES_ONLY_PROMPT
from bot.slack_text import decode, encoded_text
from bot.trigger_commands import parse_trigger_text
from handlers.context import HandlerContext
from handlers.follow_up_filter import screen_reply
from handlers.intake import record_resume, record_run_request
from handlers.modals import REQUESTER_ONLY
from handlers.pr_actions import pr_reply
from handlers.watch import check_message
from storage.audit import FOLLOW_UP, REFUSED

# Message subtypes that are still a person talking; every other subtype (edits, deletions,
# joins, bot messages…) is ignored so the bot can never answer itself or loop.
HUMAN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
THREAD_DEFAULT_PROMPT = "Help with what is discussed in this thread."
SLASH_ONLY = (
    "Watch rules and schedules belong to a channel: use `/codegen watch …` or `/codegen schedule …` there."
)


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the event listeners."""

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        handle_message(ctx, event, body, context, mentioned=True)

    @app.event("message")
    def on_message(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        check_message(ctx, event, body, context)  # the channel's watch rules see bots' posts too
        handle_message(ctx, event, body, context, mentioned=False)


def is_human_message(event: dict[str, Any], bot_user_id: str | None) -> bool:
    """True for a new message written by a person (not a bot, not an edit or deletion)."""
    if event.get("subtype") not in HUMAN_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
        return False
    user = event.get("user")
    return bool(user) and user != bot_user_id


def handle_message(
    ctx: HandlerContext, event: dict[str, Any], body: dict[str, Any], context: BoltContext, *, mentioned: bool
) -> None:
    """Route one message: resume its thread's run, start a run, or ignore it."""
    bot_user_id = context.bot_user_id
    if not is_human_message(event, bot_user_id):
        return
    # A redelivered event, or the message and app_mention events of one message, share this key:
    # the request (or the reply) it records is written once, in one transaction, before the ack.
    channel, ts, user = event["channel"], event["ts"], event["user"]
    thread_ts = event.get("thread_ts")
    text = strip_bot_mention(encoded_text(event), bot_user_id or "")
    key = f"message:{channel}:{ts}"
    files = event.get("files") or []
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    # The message event of a mention names the bot too: both answer a `pr` command once (same key).
    named = bool(bot_user_id) and f"<@{bot_user_id}" in encoded_text(event)
    parsed = parse_command(text) if mentioned or is_dm or named else None
    if isinstance(parsed, PRCommand):  # `@Codegen pr` in a run's thread: that run's PR actions
        reply = pr_reply(ctx, parsed.run_id, user=user, channel=channel, thread_ts=thread_ts)
        text, blocks = (reply, None) if isinstance(reply, str) else (reply.text, reply.blocks)
        ctx.tell_privately(channel, user, text, thread_ts, key=key, blocks=blocks)
        return
    target = follow_up_target(ctx, channel, thread_ts)
    if target is not None and thread_ts:
        raw = encoded_text(event)
        if screen_reply(ctx, raw, bot_user_id or "", channel, thread_ts, user, target.run_id, key):
            return  # not a follow-up: side talk, a muted thread, or `mute` / `unmute`
        if ctx.resume_policy == "requester" and user != target.requester:
            text = f":warning: Only <@{target.requester}>, who started this run, can send it follow-ups."
            ctx.record_audit(user, FOLLOW_UP, channel=channel, run_id=target.run_id, outcome=REFUSED,
                             detail=REQUESTER_ONLY)  # fmt: skip
            ctx.tell_privately(channel, user, text, thread_ts, key=key)
            return
        refusal = record_resume(
            ctx,
            key=key,
            channel=channel,
            user=user,
            prompt=decode(text).strip(),
            thread_ts=thread_ts or ts,
            message_ts=ts,
            run_id=target.run_id,
            after_create=target.after_create,
            files=files,
        )
        ctx.tell_privately(channel, user, refusal, thread_ts, key=key)
        return
    if event.get("channel_type") == "mpim" and named:
        mentioned = True  # a group DM's message event may come before (or without) its app_mention
    if parsed is None or not (mentioned or is_dm):
        return
    if parse_trigger_text(text) is not None:  # "watch list" to the bot is meant as the command
        ctx.tell_privately(channel, user, SLASH_ONLY, thread_ts, key=key)
        return
    if isinstance(parsed, UsageError) and not text.strip() and (thread_ts or files):
        parsed = RunCommand(prompt=THREAD_DEFAULT_PROMPT if thread_ts else IMAGES_ONLY_PROMPT)
    if not isinstance(parsed, RunCommand):
        ctx.tell_privately(channel, user, _not_a_run(parsed), thread_ts, key=key)
        return
    refusal = record_run_request(
        ctx,
        key=key,
        channel=channel,
        user=user,
        command=parsed,
        thread_ts=thread_ts or ts,
        message_ts=ts,
        thread_context=bool(thread_ts) and not is_dm,
        files=files,
    )
    ctx.tell_privately(channel, user, refusal, thread_ts, key=key)


@dataclass(frozen=True)
class FollowUpTarget:
    """What a reply in a run's thread follows up: the run, or the create request still making it."""

    requester: str
    run_id: int | None
    after_create: int | None


def follow_up_target(ctx: HandlerContext, channel: str, thread_ts: str | None) -> FollowUpTarget | None:
    """The run a reply in this thread goes to: the thread's run, else the run being made for it."""
    if not thread_ts:
        return None
    run = ctx.store.run_for_thread(channel, thread_ts)
    if run is not None:
        return FollowUpTarget(run.requester, run.run_id, None)
    making = ctx.store.create_for_thread(channel, thread_ts)
    if making is not None:
        return FollowUpTarget(making.user, None, making.id)
    return None


def _not_a_run(parsed: object) -> str:
    if isinstance(parsed, UsageError):
        return parsed.message
    return "In a mention or DM, just write what the agent should do. Use `/codegen help` for commands."
