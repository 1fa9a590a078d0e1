"""People as Slack knows them: member records from users.info, kept for an hour, for names in text an
agent reads (the raw id whenever Slack cannot say) and for who may use the bot (bot.membership)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.clock import Clock
from bot.slack_out import SlackOut

log = logging.getLogger("codegen_slack.user_names")

NAME_TTL_SECONDS = 3600.0
# A failed lookup is not repeated for this long, so a thread full of one unknown member costs one call;
# after Slack did not answer at all, no member is looked up for this long.
MISS_TTL_SECONDS = 60.0
MAX_NAMES = 5_000


def display_name(user: Mapping[str, Any]) -> str | None:
    """The name Slack shows for a member record (users.info's `user`): the display name, else the real
    name, else the username; None when the record has none of them."""
    profile = user.get("profile") or {}
    candidates = (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    )
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


USERS_INFO = "users.info"


class LookupDeferred(Exception):
    """users.info's limit has no room within the caller's `max_wait`; `seconds` until it may."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"users.info's limit is full for {seconds:.1f} s")
        self.seconds = seconds


class UserNames:
    """Maps Slack user ids to member records and names, cached in memory (at most `max_names`, each for
    `ttl` seconds; a failed lookup for `miss_ttl`); thread-safe, and never raises for a Slack failure:
    the record is None and the id itself stands in for the name."""

    def __init__(
        self,
        slack: SlackOut,
        clock: Clock,
        *,
        ttl: float = NAME_TTL_SECONDS,
        miss_ttl: float = MISS_TTL_SECONDS,
        max_names: int = MAX_NAMES,
    ) -> None:
        self._slack = slack
        self._clock = clock
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._max_names = max_names
        # id -> (users.info's `user`, or None when Slack did not say; expires at)
        self._members: OrderedDict[str, tuple[dict[str, Any] | None, float]] = OrderedDict()
        self._quiet_until = 0.0  # Slack did not answer: until then, ids stand for themselves
        self._lock = threading.Lock()

    def name(self, user_id: str) -> str:
        """`user_id`'s name as Slack shows it, or `user_id` itself when Slack does not say."""
        record = self.member(user_id)
        return (display_name(record) if record else None) or user_id

    def cached(self, user_id: str) -> dict[str, Any] | None:
        """`user_id`'s users.info record if one is kept now, else None; never asks Slack."""
        with self._lock:
            cached = self._members.get(user_id)
        return cached[0] if cached is not None and cached[1] > self._clock.now() else None

    def member(self, user_id: str, *, max_wait: float | None = None) -> dict[str, Any] | None:
        """users.info's `user` record for `user_id` (team_id, is_restricted, is_stranger, profile, …),
        or None when Slack did not give it (unknown member, error, or no answer). With `max_wait`
        (seconds), raises LookupDeferred when users.info's limit (Tier 4) has no room within that
        time: a caller answering Slack within its 3 s cannot wait for a minute's window to pass."""
        now = self._clock.now()
        with self._lock:
            cached = self._members.get(user_id)
            if cached is not None and cached[1] > now:
                return cached[0]
            if now < self._quiet_until:
                return None
        if max_wait is not None and (wait := self._slack.limits.wait_time(USERS_INFO)) > max_wait:
            raise LookupDeferred(wait)
        record, ttl = self._look_up(user_id)  # outside the lock: one slow call must not hold up the others
        with self._lock:
            self._members[user_id] = (record, self._clock.now() + ttl)
            self._members.move_to_end(user_id)
            while len(self._members) > self._max_names:
                self._members.popitem(last=False)
        return record

    def _look_up(self, user_id: str) -> tuple[dict[str, Any] | None, float]:
        """The record from users.info and how long to keep it; None (kept briefly) on a failure. A
        record without a name is asked again as soon as a failure would be."""
        try:
            record = self._slack.user_info(user_id)
        except SlackApiError as exc:
            log.warning("no record of %s (users.info: %s); using the id", user_id, exc.response.get("error"))
            return None, self._miss_ttl
        except OSError as exc:
            log.warning("no record of %s (Slack did not answer: %s); using ids", user_id, type(exc).__name__)
            with self._lock:
                self._quiet_until = self._clock.now() + self._miss_ttl
            return None, self._miss_ttl
        return record, (self._ttl if display_name(record) else self._miss_ttl)
