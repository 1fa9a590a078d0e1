"""The modals: "Start a Codegen run" (from `/codegen` or the message shortcut) and "Follow up".

Opening a modal uses the request's trigger_id, which Slack accepts only within 3 seconds, so
views.open is the one Slack call made before the ack. Submissions are checked and answered with
inline errors, or recorded as a create or resume request like any other.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.command_text import RunCommand
from bot.images import compact_files
from bot.render.cards import follow_up_note
from bot.render.home import HOME_DEFAULT_REPO
from bot.render.messages import error_text
from bot.render.modals import (
    AGENT_BLOCK,
    AGENT_CHOICES,
    AGENT_SELECT,
    ATTACHED_INSTRUCTION,
    FOLLOW_UP_MODAL,
    MODEL_BLOCK,
    MODEL_INPUT,
    PROMPT_BLOCK,
    PROMPT_INPUT,
    REPO_BLOCK,
    REPO_SELECT,
    RUN_MODAL,
    THREAD_NOTE,
    attached_note,
    follow_up_modal,
    repo_options,
    run_modal,
)
from bot.slack_text import decode
from handlers.context import HandlerContext
from handlers.intake import record_resume, record_run_request
from handlers.repositories import known_repositories, repository_problem
from storage.audit import FOLLOW_UP, REFUSED
from storage.records import RunRecord

log = logging.getLogger("codegen_slack.handlers")

MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")
COULD_NOT_OPEN = "Slack didn't let me open the form in time. Try again, or type /codegen <what to do>."


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the submission listeners and the repository menu's options listener."""

    @app.view(RUN_MODAL)
    def submit_run(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_run_modal(ctx, ack, body["user"]["id"], view)

    @app.view(FOLLOW_UP_MODAL)
    def submit_follow_up(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_follow_up_modal(ctx, ack, body["user"]["id"], view)

    @app.options(re.compile(f"^({REPO_SELECT}|{HOME_DEFAULT_REPO})$"))
    def repository_menu(ack: Ack, payload: dict[str, Any]) -> None:
        names = [repo.full_name for repo in known_repositories(ctx) or []]
        ack(options=repo_options(names, str(payload.get("value") or "")))


def open_run_modal(
    ctx: HandlerContext,
    *,
    trigger_id: str,
    user: str,
    channel: str,
    thread_ts: str = "",
    message_ts: str = "",
    files: Iterable[dict[str, Any]] = (),
    attached: int | None = None,
) -> str | None:
    """Open "Start a Codegen run", prefilled with the defaults; an error text if Slack refused.

    With `thread_ts` (the message shortcut) the run lives in that thread and gets it as context; with
    `attached` (the message's length in characters) the message `message_ts` goes to the agent whole.
    """
    prefs = ctx.store.user_prefs(user)
    metadata = {
        "channel": channel,
        "thread_ts": thread_ts,
        "message_ts": message_ts,
        "files": compact_files(files),
        **({"attached": True} if attached is not None else {}),
    }
    notes = [attached_note(attached, ctx.max_prompt_chars)] if attached is not None else []
    view = run_modal(
        metadata=json.dumps(metadata),
        repo=ctx.store.channel_settings(channel).default_repo or prefs.default_repo,
        model=prefs.default_model,
        agent_type=ctx.store.agent_type_default("channel", channel)
        or ctx.store.agent_type_default("user", user),
        max_repos=ctx.max_repos_per_prompt,
        note=" ".join([*notes, THREAD_NOTE] if thread_ts else notes),
        attached=attached,
    )
    known_repositories(ctx)  # warms the repository menu while the person types
    return _open(ctx, trigger_id, view)


def open_follow_up_modal(ctx: HandlerContext, trigger_id: str, run: RunRecord) -> str | None:
    """Open "Follow up" for `run`; an error text if Slack refused."""
    return _open(ctx, trigger_id, follow_up_modal(run))

REQUESTER_ONLY = "only the requester may follow up (CODEGEN_SLACK_RESUME_POLICY=requester)"


def follow_up_refusal(ctx: HandlerContext, run: RunRecord, user: str) -> str | None:
    """Why `user` may not send `run` follow-ups (plain text), or None."""
    if ctx.resume_policy == "requester" and user != run.requester:
        ctx.record_audit(user, FOLLOW_UP, channel=run.channel, run_id=run.run_id, outcome=REFUSED,
                         detail=REQUESTER_ONLY)  # fmt: skip
        return f"Only the person who started run {run.run_id} can send it follow-ups."
    return None


def submit_run_modal(ctx: HandlerContext, ack: Ack, user: str, view: dict[str, Any]) -> None:
    """Check the form (errors shown inline), then record the run request and close the modal."""
    values = view["state"]["values"]
    prompt = _text(values, PROMPT_BLOCK, PROMPT_INPUT)
    repos = _picked(values, REPO_BLOCK, REPO_SELECT)
    repo = repos[0] if len(repos) == 1 else ""
    model = _text(values, MODEL_BLOCK, MODEL_INPUT)
    agent_type = _selected(values, AGENT_BLOCK, AGENT_SELECT)
    meta = json.loads(view.get("private_metadata") or "{}")
    attached = bool(meta.get("attached"))
    errors = run_form_errors(ctx, prompt or (ATTACHED_INSTRUCTION if attached else ""), repos, model)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    channel, thread_ts = str(meta["channel"]), str(meta.get("thread_ts") or "")
    refusal = record_run_request(
        ctx,
        key=f"modal:{view['id']}",
        channel=channel,
        user=user,
        command=RunCommand(
            prompt=prompt or ATTACHED_INSTRUCTION,
            repo=repo or None,
            repos=tuple(repos) if len(repos) > 1 else (),
            model=model or None,
            agent_type=agent_type if agent_type in AGENT_CHOICES else None,
        ),
        thread_ts=thread_ts,
        message_ts=str(meta.get("message_ts") or ""),
        thread_context=bool(thread_ts),
        files=meta.get("files") or [],
        attached_cap=max(0, ctx.max_prompt_chars - len(prompt)) if attached else None,
    )
    ack()
    ctx.tell_privately(channel, user, refusal, thread_ts or None, key=f"modal:{view['id']}")


def run_form_errors(ctx: HandlerContext, prompt: str, repos: list[str], model: str) -> dict[str, str]:
    """Inline errors by block id; empty when the form can be submitted."""
    errors: dict[str, str] = {}
    if not prompt:
        errors[PROMPT_BLOCK] = "Tell the agent what to do."
    elif len(prompt) > ctx.max_prompt_chars:
        errors[PROMPT_BLOCK] = f"Keep it under {ctx.max_prompt_chars:,} characters."
    problem = next(filter(None, (repository_problem(ctx, repo) for repo in repos)), None)
    if len(repos) > ctx.max_repos_per_prompt:
        problem = f"Pick at most {ctx.max_repos_per_prompt} repositories (you picked {len(repos)})."
    if problem:
        errors[REPO_BLOCK] = problem
    if model and not MODEL_RE.fullmatch(model):
        errors[MODEL_BLOCK] = "A model name is one word, like claude-sonnet-4."
    return errors


def submit_follow_up_modal(ctx: HandlerContext, ack: Ack, user: str, view: dict[str, Any]) -> None:
    """Record the follow-up as a resume of the run, and show it in the run's thread."""
    prompt = _text(view["state"]["values"], PROMPT_BLOCK, PROMPT_INPUT)
    run_id = str(view.get("private_metadata") or "")
    run = ctx.store.get_run(int(run_id)) if run_id.isascii() and run_id.isdigit() else None
    if run is None:
        ack(response_action="errors", errors={PROMPT_BLOCK: "I don't know that run any more."})
        return
    refusal = follow_up_refusal(ctx, run, user) or _plain_error(
        record_resume(
            ctx,
            key=f"follow_up:{view['id']}",
            channel=run.channel,
            user=user,
            prompt=prompt,
            thread_ts=run.thread_ts,
            message_ts="",
            run_id=run.run_id,
        )
    )
    if refusal or not prompt:
        ack(
            response_action="errors", errors={PROMPT_BLOCK: refusal or "Write what the agent should do next."}
        )
        return
    ack()
    note = follow_up_note(user, run.run_id, prompt)
    ctx.tell_privately(run.channel, user, note, run.thread_ts, key=f"follow_up:{view['id']}", visible=True)


def _open(ctx: HandlerContext, trigger_id: str, view: dict[str, Any]) -> str | None:
    try:
        ctx.slack.open_view(trigger_id, view)
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        return error_text(COULD_NOT_OPEN)
    return None


def _text(values: dict[str, Any], block: str, action: str) -> str:
    return str((values.get(block, {}).get(action) or {}).get("value") or "").strip()


def _picked(values: dict[str, Any], block: str, action: str) -> list[str]:
    """The values of a multi-select (or of a single select, as forms opened before it was one send)."""
    state = values.get(block, {}).get(action) or {}
    options = state.get("selected_options") or [state.get("selected_option") or {}]
    return [str(option["value"]) for option in options if option.get("value")]


def _selected(values: dict[str, Any], block: str, action: str) -> str:
    option = (values.get(block, {}).get(action) or {}).get("selected_option") or {}
    return str(option.get("value") or "")


def _plain_error(text: str | None) -> str | None:
    """An intake refusal (mrkdwn) as an inline error: without the warning sign and Slack's escaping."""
    return decode(text.removeprefix(":warning:").strip()) if text else None
