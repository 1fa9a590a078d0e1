"""Recording intents: a new run or a resume prompt, written down before Slack gets its ack."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.command_text import RunCommand
from bot.images import IMAGES_ONLY_PROMPT, sort_attachments
from bot.render.messages import error_text
from handlers.context import HandlerContext
from handlers.prompt_groups import record_prompt_group
from storage.audit import ALLOWED, FOLLOW_UP, REFUSED, START, AuditEntry
from storage.store import CapReached


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
    files: Iterable[dict[str, Any]] = (),
    images: Sequence[str] = (),
    attached_cap: int | None = None,
    action: str = START,
    run_id: int | None = None,
    hourly_cap: int | None = None,
) -> str | None:
    """Queue a create (or, for several repositories, a prompt group: handlers/prompt_groups.py);
    returns a message for the user when it is refused (None when recorded).
    With `attached_cap`, message `message_ts` goes to the agent whole (up to that many characters).
    The audit trail records it as `action` (START, or RETRY of run `run_id`), with any refusal.
    `hourly_cap` replaces the per-person cap (0: none; watch rules and schedules have their own).

    Without repo=, model= or agent=, the channel's default repository (else the user's), the user's
    default model and the channel's default agent type (else the user's) apply. Slack `files` are
    sorted by bot.images; `images` are data URIs already.
    """
    if len(command.prompt) > ctx.max_prompt_chars:
        _too_long(ctx, user, action, channel, run_id, command.prompt)
        return error_text(
            f"That prompt is {len(command.prompt):,} characters; the limit is {ctx.max_prompt_chars:,}. "
            "Shorten it, or put the details in a file in the repository and point the agent at it."
        )
    options: dict[str, object] = {"thread_context": thread_context, "message_ts": message_ts}
    if attached_cap is not None:
        options.update(attached_ts=message_ts, attached_cap=attached_cap)
    prefs = ctx.store.user_prefs(user)
    repo = command.repo or ctx.store.channel_settings(channel).default_repo or prefs.default_repo
    model = command.model or prefs.default_model
    if repo:
        options["repo"] = repo
    if model:
        options["model"] = model
    agent_type = (
        command.agent_type
        or ctx.store.agent_type_default("channel", channel)
        or ctx.store.agent_type_default("user", user)
    )
    if agent_type:
        options["agent_type"] = agent_type
    if command.repos:
        files = list(files)
        if files or images or attached_cap is not None:
            return error_text(
                "Files and attached messages go to one repository's run only; send them with one repo=, "
                "or send the prompt to several repositories without them."
            )
        shared = {k: v for k, v in options.items() if k in ("model", "agent_type")}
        refusal = record_prompt_group(ctx, command, key=key, channel=channel, user=user, options=shared)
        ctx.record_audit(
            user, action, channel=channel, run_id=run_id, outcome=REFUSED if refusal else ALLOWED,
            detail=f"prompt of {len(command.prompt)} characters to repo={','.join(command.repos)}",
        )  # fmt: skip
        return refusal
    try:
        _add_request(
            ctx,
            files,
            key=key,
            kind="create",
            channel=channel,
            user=user,
            prompt=command.prompt,
            thread_ts=thread_ts,
            options=options,
            images=list(images),
            hourly_cap=ctx.runs_per_user_per_hour if hourly_cap is None else hourly_cap,
            audit=_audit(ctx, key, user, action, channel, run_id, command.prompt),
        )
    except CapReached as exc:
        cap = f"hourly cap of {exc.cap} runs"
        ctx.record_audit(user, action, channel=channel, run_id=run_id, outcome=REFUSED, detail=cap)
        return error_text(
            f"You've started {exc.cap} runs in the last hour, the most allowed per person. Try again later."
        )
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
    run_id: int | None,
    after_create: int | None = None,
    files: Iterable[dict[str, Any]] = (),
) -> str | None:
    """Queue a resume prompt for a run, or for the run that create request `after_create` is still
    making (it waits for that run); returns a refusal message, or None when recorded."""
    files = list(files)
    if not prompt.strip() and not files:
        return None
    if len(prompt) > ctx.max_prompt_chars:
        _too_long(ctx, user, FOLLOW_UP, channel, run_id, prompt)
        return error_text(f"That follow-up is over {ctx.max_prompt_chars:,} characters; please shorten it.")
    _add_request(
        ctx,
        files,
        key=key,
        kind="resume",
        channel=channel,
        user=user,
        prompt=prompt,
        thread_ts=thread_ts,
        run_id=run_id,
        options={"message_ts": message_ts, **({"after_create": after_create} if after_create else {})},
        audit=_audit(ctx, key, user, FOLLOW_UP, channel, run_id, prompt),
    )
    return None


def _too_long(
    ctx: HandlerContext, user: str, action: str, channel: str, run_id: int | None, prompt: str
) -> None:
    detail = f"prompt of {len(prompt)} characters, over the limit of {ctx.max_prompt_chars}"
    ctx.record_audit(user, action, channel=channel, run_id=run_id, outcome=REFUSED, detail=detail)


def _audit(
    ctx: HandlerContext, key: str, user: str, action: str, channel: str, run_id: int | None, prompt: str
) -> AuditEntry:
    """The audit entry of a request: how it came (its key's first part) and its prompt's length, never
    the prompt itself."""
    via = key.split(":", 1)[0]
    return ctx.audit(
        user, action, channel=channel, run_id=run_id, detail=f"via {via}; prompt of {len(prompt)} characters"
    )


def _add_request(
    ctx: HandlerContext,
    files: Iterable[dict[str, Any]],
    *,
    prompt: str,
    options: dict[str, Any],
    **request: Any,
) -> None:
    """Record a request with its job (one with images to download gets an `images` job first), then
    wake the runner. Raises CapReached, StorageError."""
    attachments = sort_attachments(files)
    prompt = (prompt.strip() or (IMAGES_ONLY_PROMPT if attachments.fetch else "")) + attachments.note
    if attachments.fetch:
        options = {**options, "files": attachments.fetch}
    ctx.store.add_request(
        prompt=prompt.strip(),
        options=options,
        now=ctx.clock.now(),
        state="fetching" if attachments.fetch else "pending",
        **request,
    )
    ctx.wake()
