"""Recording intents: a new run or a resume prompt, written down before Slack gets its ack."""

from __future__ import annotations

from bot.command_text import RunCommand
from bot.render.messages import error_text
from handlers.context import HandlerContext


def record_run_request(
    ctx: HandlerContext,
    *,
    key: str,
    channel: str,
    user: str,
    command: RunCommand,
    thread_ts: str,
    message_ts: str = "",
    thread_context: bool = False,
) -> str | None:
    """Queue a create; returns a message for the user when it is refused (None when recorded)."""
    if len(command.prompt) > ctx.max_prompt_chars:
        return error_text(
            f"That prompt is {len(command.prompt):,} characters; the limit is {ctx.max_prompt_chars:,}. "
            "Shorten it, or put the details in a file in the repository and point the agent at it."
        )
    cap = ctx.runs_per_user_per_hour
    if cap and ctx.store.count_creates_since(user, ctx.clock.now() - 3600) >= cap:
        return error_text(
            f"You've started {cap} runs in the last hour, the most allowed per person. Try again later."
        )
    options: dict[str, object] = {"thread_context": thread_context, "message_ts": message_ts}
    if command.repo:
        options["repo"] = command.repo
    if command.model:
        options["model"] = command.model
    ctx.store.add_request(
        key=key,
        kind="create",
        channel=channel,
        user=user,
        prompt=command.prompt,
        now=ctx.clock.now(),
        thread_ts=thread_ts,
        options=options,
    )
    ctx.wake_creates()
    return None


def record_resume(
    ctx: HandlerContext,
    *,
    key: str,
    channel: str,
    user: str,
    prompt: str,
    thread_ts: str,
    message_ts: str,
    run_id: int,
) -> str | None:
    """Queue a resume prompt for a run; returns a refusal message, or None when recorded."""
    if not prompt.strip():
        return None
    if len(prompt) > ctx.max_prompt_chars:
        return error_text(f"That follow-up is over {ctx.max_prompt_chars:,} characters; please shorten it.")
    ctx.store.add_request(
        key=key,
        kind="resume",
        channel=channel,
        user=user,
        prompt=prompt,
        now=ctx.clock.now(),
        thread_ts=thread_ts,
        run_id=run_id,
        options={"message_ts": message_ts},
    )
    ctx.wake_resumes()
    return None
