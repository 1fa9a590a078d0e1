"""Every error the Slack Web API answers, in the class that says what the bot does about it.

Sources: each method's "Errors" table on docs.slack.dev, and the Web API's common errors.

- GONE: the message, thread or channel no longer exists or is closed to the bot. The effect ends
  at once; a result still goes where it can (the thread, else a DM to the requester).
- TRANSIENT: Slack is busy or failing; retried after its Retry-After (else the job's backoff).
- AUTH: the bot token no longer works; all Slack work pauses and /healthz says 503 until it does.
- OUR_BUG: Slack refused what we built (blocks, length); the message is sent again as plain text
  and the error is logged.
- PERMANENT: anything else: the job ends dead and its person is told.
"""

from __future__ import annotations

from enum import Enum

from slack_sdk.errors import SlackApiError


class SlackErrorClass(Enum):
    """What the bot does about a Slack error (see the module docstring)."""

    GONE = "gone"
    TRANSIENT = "transient"
    AUTH = "auth"
    OUR_BUG = "our_bug"
    PERMANENT = "permanent"


GONE = frozenset(
    {
        "message_not_found",
        "thread_not_found",
        "invalid_thread_ts",
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "cant_update_message",
        "edit_window_closed",
        "user_not_found",
        "user_not_in_channel",
        "cannot_dm_bot",
        "messages_tab_disabled",
        "no_reaction",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "team_access_not_granted",
    }
)
TRANSIENT = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "unknown_error",
    }
)
AUTH = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"})
OUR_BUG = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_many_attachments", "invalid_attachments"}
)
# The channel is gone or closed to the bot: tell the requester another way.
UNREACHABLE_CHANNEL = frozenset({"channel_not_found", "not_in_channel", "is_archived"})


def classify_slack_error(error: str) -> SlackErrorClass:
    """The class of a Slack `error` string."""
    for members, kind in (
        (GONE, SlackErrorClass.GONE),
        (TRANSIENT, SlackErrorClass.TRANSIENT),
        (AUTH, SlackErrorClass.AUTH),
        (OUR_BUG, SlackErrorClass.OUR_BUG),
    ):
        if error in members:
            return kind
    return SlackErrorClass.PERMANENT


def slack_error(exc: SlackApiError) -> str:
    """The `error` string of a Slack API failure."""
    return str(exc.response.get("error") or "unknown_error")


def is_gone(exc: SlackApiError) -> bool:
    """Whether the failure means the message, thread or channel is gone."""
    return slack_error(exc) in GONE


def retry_after_seconds(exc: SlackApiError) -> float | None:
    """Slack's Retry-After (seconds) on a 429, if it sent one."""
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
