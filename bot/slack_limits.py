"""Slack's rate limits kept on our side, so background work waits for room instead of earning 429s.

Slack limits each Web API method per workspace by tier (Tier 2 about 20 calls a minute, Tier 3
about 50, Tier 4 about 100) and chat.postMessage to about one message a second per channel, with
short bursts. Every call SlackOut makes takes a slot of its method's limiter (of its channel's, for
posts); background workers ask `wait_time` first and use only a share of a limit, so a burst of
finished runs never makes a person's own request wait, and one busy method (editing status
messages) never holds up another (posting results).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from bot.clock import Clock
from bot.codegen.limiter import SlidingWindowLimiter
from bot.shared_limit import SharedWindow

PER_MINUTE = 60.0
TIER_2, TIER_3, TIER_4 = 20, 50, 100
POST, EDIT, REACT, UNREACT = "chat.postMessage", "chat.update", "reactions.add", "reactions.remove"
SESSION_STATUS, LOADING_STATUS = "agents.sessions.setStatus", "assistant.threads.setStatus"
UNFURL = "chat.unfurl"
METHOD_LIMITS: dict[str, int] = {
    SESSION_STATUS: TIER_3,
    LOADING_STATUS: TIER_3,  # "special" in Slack's docs; kept to Tier 3 here
    UNFURL: TIER_3,
    EDIT: TIER_3,
    REACT: TIER_3,
    UNREACT: TIER_3,
    "conversations.replies": TIER_3,
    "conversations.history": TIER_3,
    "conversations.open": TIER_2,
    "conversations.join": TIER_3,
    "chat.postEphemeral": TIER_4,
    "views.publish": TIER_4,
    "users.info": TIER_4,
    "team.info": TIER_3,
}
POSTS_PER_CHANNEL, POST_WINDOW = 10, 10.0  # one a second, bursts of ten


class SlackLimits:
    """One sliding window per rate-limited method, and one per channel for posts; thread-safe. The
    methods in `shared` count against windows kept in the database for all replicas instead."""

    def __init__(self, clock: Clock, shared: Mapping[str, SharedWindow] | None = None) -> None:
        self._clock = clock
        self._shared = dict(shared or {})
        self._methods = {
            m: SlidingWindowLimiter(n, PER_MINUTE, clock)
            for m, n in METHOD_LIMITS.items()
            if m not in self._shared
        }
        self._channels: dict[str, SlidingWindowLimiter] = {}
        self._lock = threading.Lock()

    def limiter(self, method: str, channel: str | None = None) -> SlidingWindowLimiter | SharedWindow | None:
        """The limiter a call of `method` (in `channel`) counts against, if Slack limits it."""
        if method in self._shared:
            return self._shared[method]
        if method != POST:
            return self._methods.get(method)
        return self._channel(channel)

    def _channel(self, channel: str | None) -> SlidingWindowLimiter:
        with self._lock:
            found = self._channels.get(channel or "")
            if found is None:
                found = self._channels[channel or ""] = SlidingWindowLimiter(
                    POSTS_PER_CHANNEL, POST_WINDOW, self._clock
                )
            return found

    def windows(self) -> dict[str, SlidingWindowLimiter]:
        """Each limiter kept in memory by method, and by "chat.postMessage:" + channel for posts."""
        with self._lock:
            channels = {f"{POST}:{channel}": limiter for channel, limiter in self._channels.items()}
        return {**self._methods, **channels}

    def window(self, name: str) -> SlidingWindowLimiter | None:
        """The limiter `windows()` lists as `name` (made for a channel not posted to yet)."""
        method, _, channel = name.partition(":")
        if method == POST:
            return self._channel(channel)
        return self._methods.get(method)

    def wait_time(self, method: str, channel: str | None = None, share: float = 1.0) -> float:
        """Seconds until a call of `method` (in `channel`) fits in `share` of its limit."""
        limiter = self.limiter(method, channel)
        return 0.0 if limiter is None else limiter.wait_time(share)
