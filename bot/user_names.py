"""People's names for text an agent reads: Slack user ids looked up with users.info, kept for an hour,
and the raw id whenever Slack cannot say."""

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


class UserNames:
    """Maps Slack user ids to names, cached in memory (at most `max_names`, each for `ttl` seconds);
    thread-safe, and never raises for a Slack failure: the id itself stands in for the name."""

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
        self._names: OrderedDict[str, tuple[str, float]] = OrderedDict()  # id -> (name, expires at)
        self._quiet_until = 0.0  # Slack did not answer: until then, ids stand for themselves
        self._lock = threading.Lock()

    def name(self, user_id: str) -> str:
        """`user_id`'s name as Slack shows it, or `user_id` itself when Slack does not say."""
        now = self._clock.now()
        with self._lock:
            cached = self._names.get(user_id)
            if cached is not None and cached[1] > now:
                return cached[0]
            if now < self._quiet_until:
                return user_id
        name, ttl = self._look_up(user_id)  # outside the lock: one slow call must not hold up the others
        with self._lock:
            self._names[user_id] = (name, self._clock.now() + ttl)
            self._names.move_to_end(user_id)
            while len(self._names) > self._max_names:
                self._names.popitem(last=False)
        return name

    def _look_up(self, user_id: str) -> tuple[str, float]:
        """The name from users.info and how long to keep it; the id (kept briefly) on a failure."""
        try:
            found = display_name(self._slack.user_info(user_id))
        except SlackApiError as exc:
            log.warning("no name for %s (users.info: %s); using the id", user_id, exc.response.get("error"))
            return user_id, self._miss_ttl
        except OSError as exc:
            log.warning("no name for %s (Slack did not answer: %s); using ids", user_id, type(exc).__name__)
            with self._lock:
                self._quiet_until = self._clock.now() + self._miss_ttl
            return user_id, self._miss_ttl
        return (found, self._ttl) if found else (user_id, self._miss_ttl)
