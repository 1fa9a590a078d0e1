"""Which replies in a run's thread go to the agent, so side talk never becomes a follow-up.

A reply is not sent, and not acknowledged, when it mentions other people but not the bot, when the
thread is muted, or when the channel takes only replies that mention the bot (`/codegen config
follow-ups mention`). `mute` / `unmute` said in the thread (to the bot, or as the whole reply)
changes the thread's muting (the card shows it), and `stop` said to the bot stops the run.
"""

from __future__ import annotations

import re
from enum import Enum

from handlers.context import HandlerContext
from handlers.stop import stop_in_thread

_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>|<!subteam\^[A-Z0-9]+(?:\|[^<>]*)?>")
_WORD_RE = re.compile(r"[\s.!]+")
MUTED_HINT = (
    "Follow-ups in this thread are muted by <@{user}>, so your message was not sent to the agent."
    " Say `unmute` to the bot, or use the card's button, to send follow-ups again."
)
MUTED = (
    "🔇 Muted: replies in this thread are no longer sent to the agent."
    " Say `unmute` to the bot, or use the card's button, to send them again."
)
UNMUTED = "🔔 Unmuted: replies in this thread go to the agent again."
NOT_STARTED = "This run is still being started; press Stop on its card once it shows."
ALREADY_MUTED = "Follow-ups in this thread were already muted."
NOT_MUTED = "Follow-ups in this thread were not muted."


class Verdict(Enum):
    """What to do with a reply in a run's thread."""

    SEND = "send"
    IGNORE = "ignore"  # not sent, not acknowledged
    MUTED_MENTION = "muted_mention"  # the bot was asked something in a muted thread: say why not
    MUTE = "mute"
    UNMUTE = "unmute"
    STOP = "stop"  # `stop` said to the bot: stop the run


def judge_reply(text: str, bot_user_id: str, *, muted: bool, mode: str) -> Verdict:
    """Judge a reply in a run's thread from its Slack text (mentions still as `<@U…>`)."""
    mentioned = {m.group(1) for m in _MENTION_RE.finditer(text)}
    to_bot = bot_user_id in mentioned
    others = bool(mentioned - {bot_user_id}) or "<!subteam^" in text
    word = _WORD_RE.sub(" ", _MENTION_RE.sub(" ", text)).strip().lower()
    if word in ("mute", "unmute") and (to_bot or not others):
        return Verdict.MUTE if word == "mute" else Verdict.UNMUTE
    if word == "stop" and to_bot:
        return Verdict.STOP
    if others and not to_bot:
        return Verdict.IGNORE
    if muted:
        return Verdict.MUTED_MENTION if to_bot else Verdict.IGNORE
    if mode == "mention" and not to_bot:
        return Verdict.IGNORE
    return Verdict.SEND


def change_muting(
    ctx: HandlerContext, verdict: Verdict, *, run_id: int | None, channel: str, thread_ts: str, user: str
) -> str:
    """Mute or unmute the thread (the card shows it); returns what to tell `user` privately."""
    mute = verdict is Verdict.MUTE
    who = user if mute else None
    changed = ctx.store.set_muted(run_id, channel, thread_ts, user=who, now=ctx.clock.now())
    ctx.wake()
    if mute:
        return MUTED if changed else ALREADY_MUTED
    return UNMUTED if changed else NOT_MUTED


def screen_reply(
    ctx: HandlerContext,
    text: str,
    bot_user_id: str,
    channel: str,
    thread_ts: str,
    user: str,
    run_id: int | None,
    key: str,
) -> bool:
    """Deal with a reply in a run's thread that is not a follow-up; True when it was one of those (side
    talk and muted replies are dropped silently, `mute` / `unmute` answered privately). `text` is the
    reply's Slack text, `key` names the event (a redelivery answers once)."""
    muted_by = ctx.store.muted_by(channel, thread_ts)
    mode = ctx.store.follow_up_mode(channel)
    verdict = judge_reply(text, bot_user_id, muted=muted_by is not None, mode=mode)
    if verdict in (Verdict.MUTE, Verdict.UNMUTE):
        said = change_muting(ctx, verdict, run_id=run_id, channel=channel, thread_ts=thread_ts, user=user)
        ctx.tell_privately(channel, user, said, thread_ts, key=key)
    elif verdict is Verdict.STOP:
        said = stop_in_thread(ctx, channel, thread_ts, user, "thread") or NOT_STARTED
        ctx.tell_privately(channel, user, said, thread_ts, key=key)
    elif verdict is Verdict.MUTED_MENTION:
        ctx.tell_privately(channel, user, MUTED_HINT.format(user=muted_by), thread_ts, key=key)
    return verdict is not Verdict.SEND
