"""The App Home tab: published when opened, and again when the viewer changes a default there (and,
by bot/home_refresh.py, when one of their runs changes)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.render.home import (
    DM_ON_FINISH_VALUE,
    HOME_CLEAR_DEFAULTS,
    HOME_DEFAULT_MODEL,
    HOME_DEFAULT_REPO,
    HOME_DM_ON_FINISH,
)
from handlers.context import HandlerContext
from handlers.modals import MODEL_RE
from handlers.repositories import known_repositories


def register(app: App, ctx: HandlerContext) -> None:
    """Attach the Home tab's listeners."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            known_repositories(ctx)  # warms the repository menu
            ctx.store.home_opened(event["user"], ctx.clock.now())
            ctx.wake()

    @app.action(HOME_DM_ON_FINISH)
    def dm_on_finish(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        chosen = {option.get("value") for option in action.get("selected_options") or []}
        _change(ctx, ack, body, dm_on_finish=DM_ON_FINISH_VALUE in chosen)

    @app.action(HOME_DEFAULT_REPO)
    def default_repo(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        chosen = (action.get("selected_option") or {}).get("value")
        _change(ctx, ack, body, default_repo=chosen or None)

    @app.action(HOME_DEFAULT_MODEL)
    def default_model(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        model = str(action.get("value") or "").strip()
        if model and not MODEL_RE.fullmatch(model):
            _change(ctx, ack, body)  # not a model name: show the saved one again
        else:
            _change(ctx, ack, body, default_model=model or None)

    @app.action(HOME_CLEAR_DEFAULTS)
    def clear_defaults(ack: Ack, body: dict[str, Any]) -> None:
        _change(ctx, ack, body, default_repo=None, default_model=None)


def _change(ctx: HandlerContext, ack: Ack, body: dict[str, Any], **prefs: Any) -> None:
    """Save the viewer's changed defaults, acknowledge, and show the Home tab as it now is."""
    user = body["user"]["id"]
    if prefs:
        ctx.store.set_user_prefs(user, **prefs)
    ack()
    ctx.store.home_opened(user, ctx.clock.now(), opened=False)
    ctx.wake()
