"""What every handler may use: storage, the clock, SlackOut for views.open, and a way to wake the jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.repos import RepoDirectory
from bot.slack_out import SlackOut
from bot.user_names import UserNames
from storage.job_kinds import PRIORITY, REPLY
from storage.store import Store


@dataclass
class HandlerContext:
    """Handlers record intents (and the jobs that carry them out) in `store`, then `wake()` the runner.

    No handler calls Slack or Codegen itself, but for views.open (`slack.open_view`), which must
    use its trigger within 3 seconds.
    """

    store: Store
    clock: Clock
    slack: SlackOut
    wake: Callable[[], None]
    max_prompt_chars: int = 20_000
    admin_users: frozenset[str] = frozenset()
    resume_policy: str = "anyone"
    runs_per_user_per_hour: int = 0
    repos: RepoDirectory | None = None
    members: UserNames | None = None  # users.info records, cached: who is an outsider or a guest
    max_repos_per_prompt: int = 20  # CODEGEN_SLACK_MAX_REPOS_PER_PROMPT

    def is_admin(self, user: str) -> bool:
        """Whether `user` may change channel settings (everyone, when no admins are configured)."""
        return not self.admin_users or user in self.admin_users

    def tell_privately(
        self,
        channel: str,
        user: str,
        text: str | None,
        thread_ts: str | None = None,
        *,
        key: str | None = None,
        visible: bool = False,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Show `text` to `user` only (as a message in a DM), after the ack; None does nothing. `key`
        names what it answers (a redelivery of the same event then says it once); `visible` posts it
        in the thread for everyone instead; private `blocks` are shown with `text` as fallback."""
        if not text:
            return
        say: dict[str, Any] = {
            "channel": channel, "user": user, "text": text, "thread_ts": thread_ts, "visible": visible,
        }  # fmt: skip
        if blocks:
            say["blocks"] = blocks
        reply_key = f"{REPLY}:{key or uuid.uuid4().hex}"
        self.store.add_job(REPLY, reply_key, now=self.clock.now(), priority=PRIORITY[REPLY], payload=say)
        self.wake()
