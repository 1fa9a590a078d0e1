"""What every handler may use: storage, the clock, SlackOut for views.open, and a way to wake the jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bot.clock import Clock
from bot.codegen_members import CodegenMembers, slack_email
from bot.repos import RepoDirectory
from bot.slack_out import SlackOut
from bot.user_names import UserNames
from storage.audit import AuditEntry
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
    codegen_members: CodegenMembers | None = None  # the membership gate, when it is on
    unfurl_domain: str = "codegen.com"  # Codegen's run links (web_url) are previewed on this domain
    watch_runs_per_hour: int = 5  # runs one watch rule may start per hour
    trigger_emoji: str = ""  # reacting with it sends a message to Codegen ("": no reaction trigger)
    max_repos_per_prompt: int = 20  # CODEGEN_SLACK_MAX_REPOS_PER_PROMPT

    def is_admin(self, user: str) -> bool:
        """Whether `user` may change channel settings: one of CODEGEN_SLACK_ADMIN_USERS, or, with the
        membership gate, a Codegen ADMIN (by their Slack email); everyone, when neither applies."""
        if user in self.admin_users:
            return True
        if self.codegen_members is None or self.members is None:
            return not self.admin_users
        record = self.members.cached(user)  # the access check has just asked Slack
        return self.codegen_members.is_admin(slack_email(record))

    def may_act_on_run(self, user: str, requester: str) -> bool:
        """Whether `user` may stop a run or act on its pull requests: its requester, or an admin (one
        of CODEGEN_SLACK_ADMIN_USERS, or with the membership gate a Codegen ADMIN). With neither
        configured, only the requester: unlike channel settings, a run is not everyone's to steer."""
        admins_configured = bool(self.admin_users) or self.codegen_members is not None
        return user == requester or (admins_configured and self.is_admin(user))

    def audit(self, user: str, action: str, **entry: Any) -> AuditEntry:
        """An audit entry for what `user` did now (fields as storage.audit.AuditEntry); their team from
        their users.info record when it is kept."""
        record = self.members.cached(user) if self.members else None
        team = (record or {}).get("team_id")
        return AuditEntry(at=self.clock.now(), actor=user, action=action, team=team, **entry)

    def record_audit(self, user: str, action: str, **entry: Any) -> None:
        """Record `audit(user, action, **entry)` in a transaction of its own."""
        self.store.record_audit(**asdict(self.audit(user, action, **entry)))

    def tell_privately(
        self,
        channel: str,
        user: str,
        text: str | None,
        thread_ts: str | None = None,
        *,
        key: str | None = None,
        visible: bool = False,
        outsider_team: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Show `text` to `user` only (as a message in a DM), after the ack; None does nothing. An
        empty `channel` (a Home tab's button) means by DM. `key` names what it answers (a redelivery
        of the same event then says it once); `visible` posts it in the thread for everyone instead;
        private `blocks` are shown with `text` as fallback. `outsider_team`: the text is an
        outsider's refusal, to name this team when Slack says its name."""
        if not text:
            return
        say: dict[str, Any] = {
            "channel": channel, "user": user, "text": text, "thread_ts": thread_ts, "visible": visible,
        }  # fmt: skip
        if outsider_team:
            say["outsider_team"] = outsider_team
        if blocks:
            say["blocks"] = blocks
        reply_key = f"{REPLY}:{key or uuid.uuid4().hex}"
        self.store.add_job(REPLY, reply_key, now=self.clock.now(), priority=PRIORITY[REPLY], payload=say)
        self.wake()
