"""Who is an outsider and who is a guest, from what Slack says about a person: decisions.

An outsider's user or team differs from the app's workspace (or its Enterprise Grid organization):
a Slack Connect partner's member, seen in events as `user_team`/`team`, in interactive payloads as
`user.team_id`, and in users.info as `team_id`, `is_stranger` and `enterprise_user`. A guest is a
single- or multi-channel guest: users.info's `is_ultra_restricted` / `is_restricted`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.codegen import CodegenError
from bot.codegen_members import (
    NO_EMAIL,
    NOT_A_MEMBER,
    CodegenMembers,
    MembersUnknown,
    membership_refusal,
    slack_email,
)
from bot.jobs import Dead, Defer, Outcome, Retry
from bot.user_names import LookupDeferred, UserNames
from storage.audit import FOLLOW_UP, REFUSED, RETRY, START
from storage.ports import AuditLog
from storage.records import Request

OUTSIDER = (
    "Sorry, the Codegen bot here only takes requests from members of this workspace. "
    "Ask someone on the team to run it for you, or a workspace admin to allow your organization."
)
OUTSIDER_OF = (  # OUTSIDER, when Slack names the person's team
    "Sorry, the Codegen bot here only takes requests from members of this workspace, and you're here "
    "as a member of *{team}*. Ask someone on the team to run it for you, or a workspace admin to allow "
    "your organization."
)
GUEST = (
    "Sorry, guests can't use the Codegen bot in this workspace. "
    "Ask a full member of the team to run it for you, or a workspace admin to allow guests."
)
UNCHECKED = (
    "Sorry, I couldn't check your Slack account just now, so I didn't act on that. "
    "Please try again in a minute."
)


@dataclass(frozen=True)
class Home:
    """The app's own workspace (auth.test's `team_id`) and Enterprise Grid org (`enterprise_id`)."""

    team_id: str | None
    enterprise_id: str | None = None

    def includes(self, team: str | None) -> bool:
        """Whether `team` (a workspace or org id) is this workspace or its org."""
        return bool(team) and team in (self.team_id, self.enterprise_id)


@dataclass(frozen=True)
class AccessRules:
    """What the settings allow beyond the workspace's full members."""

    allow_guests: bool = False
    allowed_teams: frozenset[str] = frozenset()

    def trusts(self, home: Home, team: str | None) -> bool:
        """Whether a member of `team` counts as one of ours: the workspace, its org, or an allowed team."""
        return home.includes(team) or (bool(team) and team in self.allowed_teams)


def payload_team(body: Mapping[str, Any]) -> str | None:
    """The team the person behind a request belongs to, when the payload says: an event's `user_team`
    (else its `team`), an interactive payload's `user.team_id`; None for slash commands and others."""
    event = body.get("event")
    if isinstance(event, Mapping):
        return event.get("user_team") or event.get("team") or None
    user = body.get("user")
    if isinstance(user, Mapping):
        return user.get("team_id") or None
    return None


def settled_by_payload(rules: AccessRules, home: Home, team: str | None) -> str | None:
    """The refusal the payload alone settles (OUTSIDER for a team not trusted), else None."""
    if team and not rules.trusts(home, team):
        return OUTSIDER
    return None


def needs_record(rules: AccessRules, home: Home, team: str | None) -> bool:
    """Whether users.info must be asked: always, unless guests are allowed and the payload already
    places the person in the workspace."""
    return not (rules.allow_guests and home.includes(team))


def member_refusal(rules: AccessRules, home: Home, record: Mapping[str, Any] | None) -> str | None:
    """The refusal for a users.info record: OUTSIDER for a stranger or a member of an untrusted team
    (outside the org; an allowed team id may also name another Grid org, `E…`), GUEST for a guest
    unless guests are allowed, UNCHECKED when there is no record."""
    if record is None:
        return UNCHECKED
    team = record.get("team_id")
    enterprise = (record.get("enterprise_user") or {}).get("enterprise_id")
    in_org = home.enterprise_id is not None and enterprise == home.enterprise_id
    allowed_org = bool(enterprise) and enterprise in rules.allowed_teams
    if record.get("is_stranger") and not (rules.trusts(home, team) or allowed_org):
        return OUTSIDER
    if not (in_org or allowed_org or rules.trusts(home, team)):
        return OUTSIDER
    if (record.get("is_restricted") or record.get("is_ultra_restricted")) and not rules.allow_guests:
        return GUEST
    return None


def is_outsider_message(message: Mapping[str, Any], trusted: frozenset[str]) -> bool:
    """Whether a message from conversations.replies was written by someone outside `trusted` teams
    (its `user_team`, else `team`); messages without a team (bots, old ones) count as ours."""
    team = message_team(message)
    return bool(team) and bool(trusted) and team not in trusted


def message_team(message: Mapping[str, Any]) -> str | None:
    """The author's team of a message object, when Slack names it."""
    return message.get("user_team") or message.get("team") or None


def requester_check(
    rules: AccessRules,
    workspace: Callable[[], tuple[str | None, str | None]],
    members: UserNames,
    codegen_members: CodegenMembers | None = None,
) -> Callable[[str], str | None]:
    """The check a job makes before it acts for `user` (starts a run, sends a follow-up, acts on a
    pull request): OUTSIDER, GUEST or UNCHECKED (Slack did not say), NOT_A_MEMBER or NO_EMAIL when
    `codegen_members` (the membership gate) is given, else None. The request may have been recorded
    without it, when there was no time to ask Slack (or Codegen) before the ack. Raises LookupDeferred
    while users.info's limit is full, MembersUnknown while the member list may not be fetched again,
    CodegenError when fetching it failed; `requester_outcome` turns all of these into an Outcome."""

    def check(user: str) -> str | None:
        record = members.member(user, max_wait=0.0)
        refusal = member_refusal(rules, Home(*workspace()), record)
        if refusal or codegen_members is None or record is None:
            return refusal
        return membership_refusal(codegen_members, record, may_refresh=True)

    return check


def requester_outcome(check: Callable[[str], str | None] | None, user: str) -> Outcome | None:
    """What a job does when `check` (see `requester_check`) has its say on `user`: None to go on;
    dead with the refusal for an outsider, a guest or a non-member; deferred while Slack or Codegen
    cannot be asked yet; retried when they did not say."""
    if check is None:
        return None
    try:
        refusal = check(user)
    except (LookupDeferred, MembersUnknown) as exc:
        return Defer(exc.seconds)
    except CodegenError as exc:
        return Retry(f"the Codegen organization's members could not be listed: {exc}")
    if refusal == UNCHECKED:
        return Retry(f"Slack did not say who {user} is")
    return Dead(refusal) if refusal else None


# Each refusal's reason as the audit trail records it (storage/audit.py).
AUDIT_REASONS = {
    OUTSIDER: "outsider (another team, or a stranger)",
    GUEST: "guest",
    UNCHECKED: "Slack did not say who they are",
    NOT_A_MEMBER: "not a member of the Codegen organization",
    NO_EMAIL: "no email in their Slack profile to match with Codegen",
}


def checked_request(
    check: Callable[[str], str | None] | None,
    store: AuditLog,
    members: UserNames | None,
    request: Request,
    now: float,
) -> Outcome | None:
    """`requester_outcome` for the person behind a recorded request, a refusal also recorded in the
    audit trail (as a start, retry or follow-up, refused, with the reason)."""
    outcome = requester_outcome(check, request.user)
    if isinstance(outcome, Dead):
        record = members.cached(request.user) if members else None
        via = request.key.split(":", 1)[0]
        action = FOLLOW_UP if request.kind == "resume" else RETRY if via == RETRY else START
        store.record_audit(
            at=now, actor=request.user, team=(record or {}).get("team_id"), action=action,
            channel=request.channel, run_id=request.run_id, request_id=request.id, outcome=REFUSED,
            detail=AUDIT_REASONS.get(outcome.reason, outcome.reason),
        )  # fmt: skip
    return outcome


def requester_metadata(
    workspace: Callable[[], tuple[str | None, str | None]],
    members: UserNames,
    codegen_members: CodegenMembers | None = None,
) -> Callable[[str], dict[str, Any]]:
    """Who asked, for a run's `metadata`: `slack_user_id`, `slack_team_id` (their team, else the
    workspace's), `requester_email` (Slack's profile.email) and `codegen_user_id` (the Codegen member
    with that email, when the member list is loaded); a part Slack or Codegen did not give is left
    out. Uses cached answers only."""

    def describe(user: str) -> dict[str, Any]:
        try:
            record = members.member(user, max_wait=0.0)
        except LookupDeferred:
            record = None
        email = slack_email(record)
        codegen_user = codegen_members.known(email) if codegen_members else None
        details = {
            "slack_user_id": user,
            "slack_team_id": (record or {}).get("team_id") or workspace()[0],
            "requester_email": email,
            "codegen_user_id": codegen_user.id if codegen_user else None,
        }
        return {key: value for key, value in details.items() if value is not None}

    return describe
