"""What every handler may use: storage, the clock, and ways to wake the workers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from slack_sdk import WebClient

from bot.clock import Clock
from bot.repos import RepoDirectory
from storage.store import Store

log = logging.getLogger("codegen_slack.handlers")


@dataclass
class HandlerContext:
    """Handlers write intents to `store` and wake the worker that applies them."""

    store: Store
    clock: Clock
    wake_creates: Callable[[], None]
    wake_resumes: Callable[[], None]
    max_prompt_chars: int = 20_000
    admin_users: frozenset[str] = frozenset()
    resume_policy: str = "anyone"
    runs_per_user_per_hour: int = 0
    repos: RepoDirectory | None = None
    wake_progress: Callable[[], None] = lambda: None
    wake_images: Callable[[], None] = lambda: None
    _replies: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2, "slack-reply"))

    def is_admin(self, user: str) -> bool:
        """Whether `user` may change channel settings (everyone, when no admins are configured)."""
        return not self.admin_users or user in self.admin_users

    def tell_privately(
        self, client: WebClient, channel: str, user: str, text: str | None, thread_ts: str | None = None
    ) -> None:
        """Show `text` to `user` only (as a DM message in a DM), after the ack; None does nothing."""
        if not text:
            return
        if channel.startswith("D"):
            self.reply_later(lambda: client.chat_postMessage(channel=channel, text=text, thread_ts=thread_ts))
        else:
            self.reply_later(
                lambda: client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
            )

    def reply_later(self, send: Callable[[], object]) -> None:
        """Send a best-effort courtesy reply (usage help) after the ack, off the request thread."""

        def run() -> None:
            try:
                send()
            except Exception as exc:  # a lost courtesy reply must not break anything else
                log.warning("could not send a reply: %s", exc)

        self._replies.submit(run)
