"""What the bot looks up in Slack: its own workspace, teams' names, members, a thread's messages,
one message, a permalink, and the bot's own earlier posts found by their metadata."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.slack_calls import SlackCalls

log = logging.getLogger("codegen_slack.slack")

# How far Slack's clock may be behind ours when a channel's recent messages are searched.
CLOCK_SKEW_SECONDS = 300.0


class SlackLookups(SlackCalls):
    """Reads from Slack; what does not change (the workspace, team names) is asked once."""

    def workspace(self) -> tuple[str | None, str | None]:
        """The bot's own workspace id and, on Enterprise Grid, its org's (auth.test, asked once)."""
        if self._home is None:
            found = self.auth_test()
            self._home = (found.get("team_id") or None, found.get("enterprise_id") or None)
        return self._home

    def home_teams(self) -> frozenset[str]:
        """The ids of the bot's own workspace and, on Enterprise Grid, its org."""
        return frozenset(team for team in self.workspace() if team)

    def name_of_team(self, team: str) -> str | None:
        """A Slack team's name (team.info, asked once per team), or None when Slack does not say."""
        if team not in self._team_names:
            try:
                found = self._call("team.info", team=team).get("team") or {}
            except SlackApiError as exc:
                log.info("no name for team %s (team.info: %s)", team, exc.response.get("error"))
                found = {}
            self._team_names[team] = str(found.get("name") or "") or None
        return self._team_names[team]

    def user_info(self, user: str) -> dict[str, Any]:
        """Slack's record of a workspace member (users.info): name, real_name, profile, is_bot, …"""
        return dict(self._call("users.info", user=user).get("user") or {})

    def thread_messages(self, channel: str, thread_ts: str, limit: int = 50) -> list[dict[str, Any]]:
        """A thread's messages, parent first (used as context for a new run)."""
        data = self._call("conversations.replies", channel=channel, ts=thread_ts, limit=limit)
        return list(data.get("messages", []))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message, top level or in a thread (its `thread_ts` names its thread), or None when the
        conversation does not have it (conversations.replies)."""
        data = self._call("conversations.replies", channel=channel, ts=ts, oldest=ts, inclusive=True, limit=2)
        return next((m for m in data.get("messages", []) if m.get("ts") == ts), None)

    def permalink(self, channel: str, ts: str) -> str:
        """The link to a message (chat.getPermalink), which opens it in its thread."""
        return str(self._call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"])

    def thread_payloads(self, channel: str, thread_ts: str, event_type: str) -> list[dict[str, Any]]:
        """The metadata payloads of the bot's messages of `event_type` in a thread (crash recovery)."""
        return [
            (message["metadata"].get("event_payload") or {})
            for message in self._bot_posts(channel, thread_ts)
            if message["metadata"].get("event_type") == event_type
        ]

    def _bot_posts(self, channel: str, thread_ts: str | None, since: float = 0.0) -> Iterator[dict[str, Any]]:
        """Messages with metadata in a thread, or at the top of a channel since `since` (newest first)."""
        method = "conversations.replies" if thread_ts else "conversations.history"
        params: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": 200}
        if thread_ts:
            params["ts"] = thread_ts
        elif since:
            params["oldest"] = f"{max(0.0, since - CLOCK_SKEW_SECONDS):.6f}"
        while True:
            data = self._call(method, **params)
            for message in data.get("messages", []):
                if message.get("metadata") and message.get("bot_id"):
                    yield message
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor
