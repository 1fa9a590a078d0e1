"""Codegen membership as the gate (CODEGEN_SLACK_REQUIRE_CODEGEN_MEMBER): who in Slack is a member of
the Codegen organization, matched by email as Codegen's own Slack app links people.

The organization's members (`GET /v1/organizations/{org_id}/users`, every page) are kept in memory
and in the database, where the other replicas find them: the `codegen_members` job (on the leader)
refreshes them every REFRESH_SECONDS, and a job that meets an unknown email
refreshes them at most once per MISS_REFRESH_SECONDS. Handlers answering Slack within its 3 s never
call Codegen: they read the list as it is, and leave an undecided person to the job that acts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from bot.clock import Clock
from bot.codegen import CodegenClient, CodegenError
from bot.codegen.models import User
from bot.jobs import Again, JobKind, Outcome
from storage.job_kinds import CODEGEN_MEMBERS
from storage.records import Job

log = logging.getLogger("codegen_slack.codegen_members")

REFRESH_SECONDS = 300.0
MISS_REFRESH_SECONDS = 60.0
SYNC_SECONDS = 5.0  # how often a replica looks for a newer list in the database


class SharedMembers(Protocol):
    """Where the list is shared between replicas (storage/members.py)."""

    def save_codegen_members(self, members: list[dict[str, Any]], now: float) -> None: ...
    def codegen_members_since(self, fetched_after: float) -> tuple[float, list[dict[str, Any]]] | None: ...
ADMIN_ROLE = "ADMIN"

NOT_A_MEMBER = (
    "Sorry, only members of this workspace's Codegen organization can use the Codegen bot, and I "
    "found no Codegen account with your Slack email. Ask a Codegen admin to invite you with the "
    "email you use in Slack."
)
NO_EMAIL = (
    "Sorry, only members of this workspace's Codegen organization can use the Codegen bot, and Slack "
    "didn't tell me your email, so I couldn't check. Ask a workspace admin."
)


class MembersUnknown(Exception):
    """The member list is too old to say no, and may not be fetched again for `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the Codegen member list may be refreshed in {seconds:.0f} s")
        self.seconds = seconds


def slack_email(record: Mapping[str, Any] | None) -> str | None:
    """The email in a users.info record (`profile.email`; needs the users:read.email scope), lowercased."""
    email = ((record or {}).get("profile") or {}).get("email")
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


class CodegenMembers:
    """The Codegen organization's members by email; thread-safe."""

    def __init__(self, codegen: CodegenClient, clock: Clock, shared: SharedMembers) -> None:
        self._codegen = codegen
        self._clock = clock
        self._shared = shared
        self._synced_at = float("-inf")
        self._by_email: dict[str, User] | None = None  # None until the first refresh
        self._loaded_at = 0.0
        self._tried_at = float("-inf")
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Fetch every member (all pages). Raises CodegenError; the old list stays then."""
        with self._lock:
            self._tried_at = self._clock.now()
        users = self._codegen.users()
        by_email = {user.email.strip().lower(): user for user in users if user.email}
        now = self._clock.now()
        self._shared.save_codegen_members([u.model_dump() for u in by_email.values()], now)
        with self._lock:
            self._by_email, self._loaded_at = by_email, now
        log.info("Codegen organization members: %d, %d with an email", len(users), len(by_email))

    def _sync(self) -> None:
        """Take the list another replica (the leader) fetched, when it is newer than ours; looked for
        at most every SYNC_SECONDS."""
        now = self._clock.now()
        with self._lock:
            if now - self._synced_at < SYNC_SECONDS:
                return
            self._synced_at, loaded_at = now, self._loaded_at
        newer = self._shared.codegen_members_since(loaded_at)
        if newer is None:
            return
        fetched_at, fields = newer
        by_email = {str(f["email"]).strip().lower(): User.model_validate(f) for f in fields}
        with self._lock:
            if fetched_at > self._loaded_at:
                self._by_email, self._loaded_at = by_email, fetched_at

    def known(self, email: str | None) -> User | None:
        """The member with `email` in the list as it is (no call to Codegen), or None."""
        self._sync()
        with self._lock:
            return (self._by_email or {}).get(email) if email else None

    def member(self, email: str, *, may_refresh: bool) -> User | None:
        """The Codegen member with `email`, or None when there is none. A miss in a list older than
        MISS_REFRESH_SECONDS refreshes it first when `may_refresh` (and the last try is that old);
        otherwise raises MembersUnknown. Raises CodegenError from a refresh."""
        user = self.known(email)
        if user is not None:
            return user
        now = self._clock.now()
        with self._lock:
            fresh = self._by_email is not None and now - self._loaded_at < MISS_REFRESH_SECONDS
            wait = self._tried_at + MISS_REFRESH_SECONDS - now
        if fresh:
            return None
        if not may_refresh or wait > 0:
            raise MembersUnknown(max(wait, 1.0))
        self.refresh()
        return self.known(email)

    def is_admin(self, email: str | None) -> bool:
        """Whether `email` belongs to a Codegen member whose role is ADMIN (by the list as it is)."""
        user = self.known(email)
        return user is not None and (user.role or "").upper() == ADMIN_ROLE


def membership_refusal(
    members: CodegenMembers, record: Mapping[str, Any], *, may_refresh: bool
) -> str | None:
    """NOT_A_MEMBER or NO_EMAIL for a users.info record whose email is no Codegen member's, else None.
    Raises MembersUnknown (see CodegenMembers.member) and CodegenError."""
    email = slack_email(record)
    if email is None:
        log.warning("users.info gave no email for %s; is users:read.email granted?", record.get("id"))
        return NO_EMAIL
    return None if members.member(email, may_refresh=may_refresh) else NOT_A_MEMBER


def members_kind(members: CodegenMembers) -> JobKind:
    """The `codegen_members` job kind: refreshes the member list every REFRESH_SECONDS."""

    def handle(job: Job) -> Outcome:
        try:
            members.refresh()
        except CodegenError as exc:
            log.warning("the Codegen member list was not refreshed: %s", exc)
            return Again(MISS_REFRESH_SECONDS)
        return Again(REFRESH_SECONDS)

    return JobKind(CODEGEN_MEMBERS, handle, needs_slack=False)
