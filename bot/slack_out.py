"""Everything the bot says in Slack goes through here: posts, edits, reactions, ephemerals, DMs, Home
tabs and modals, with a plain-text fallback, a DM fallback and posts made once."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.render.messages import SlackMessage
from bot.slack_errors import OUR_BUG, UNREACHABLE_CHANNEL, slack_error
from bot.slack_lookups import SlackLookups

log = logging.getLogger("codegen_slack.slack")

PLAIN_MAX = 3_000  # characters of a message sent again as plain text (Slack's section text limit)


class SlackOut(SlackLookups):
    """Posts, edits, reactions and ephemerals, with a DM fallback when a channel is unreachable;
    every call waits for room in Slack's limit for it (`limits`). The lookups are in
    bot.slack_lookups, the sending of one call in bot.slack_calls."""

    def post(
        self, channel: str, message: SlackMessage, *, thread_ts: str | None = None, broadcast: bool = False
    ) -> str:
        """Post a message (in a thread when `thread_ts` is given); returns its ts."""
        params: dict[str, Any] = {"channel": channel, "text": message.text, "blocks": message.blocks}
        if thread_ts:
            params["thread_ts"] = thread_ts
            if broadcast:
                params["reply_broadcast"] = True
        if message.metadata:
            params["metadata"] = message.metadata
        if message.attachments:
            params["attachments"] = message.attachments
        return str(self._with_plain_fallback("chat.postMessage", params)["ts"])

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        """Edit a message the bot posted."""
        params: dict[str, Any] = {
            "channel": channel,
            "ts": ts,
            "text": message.text,
            "blocks": message.blocks,
        }
        if message.metadata:
            params["metadata"] = message.metadata
        if message.attachments:
            params["attachments"] = message.attachments
        self._with_plain_fallback("chat.update", params)

    def _with_plain_fallback(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a message; when Slack refuses what we built (our bug: invalid blocks, too long), log
        it and send the message again as plain text, cut to what Slack takes."""
        try:
            return self._call(method, **params)
        except SlackApiError as exc:
            if slack_error(exc) not in OUR_BUG:
                raise
            log.error(
                "Slack refused a message the bot built (%s); sending it as plain text", slack_error(exc)
            )
        text = str(params.get("text") or "")
        plain = {
            **params,
            "blocks": [],
            "attachments": [],
            "text": text if len(text) <= PLAIN_MAX else text[: PLAIN_MAX - 1] + "…",
        }
        return self._call(method, **plain)

    def react(self, channel: str, ts: str, name: str) -> None:
        """Add a reaction; adding one that is already there is fine."""
        self._reaction("reactions.add", channel, ts, name, harmless="already_reacted")

    def unreact(self, channel: str, ts: str, name: str) -> None:
        """Take the app's reaction off; one that is not there is fine."""
        self._reaction("reactions.remove", channel, ts, name, harmless="no_reaction")

    def _reaction(self, method: str, channel: str, ts: str, name: str, *, harmless: str) -> None:
        try:
            self._call(method, channel=channel, timestamp=ts, name=name)
        except SlackApiError as exc:
            if exc.response.get("error") != harmless:
                raise

    def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Show `text` (or `blocks`, with `text` as their fallback) to one user only; in a DM (or if
        that fails) send it as a DM message."""
        if channel.startswith("D"):
            self._call("chat.postMessage", channel=channel, text=text, thread_ts=thread_ts, blocks=blocks)
            return
        try:
            params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
            if thread_ts:
                params["thread_ts"] = thread_ts
            if blocks:
                params["blocks"] = blocks
            self._call("chat.postEphemeral", **params)
        except SlackApiError as exc:
            if exc.response.get("error") not in UNREACHABLE_CHANNEL:
                raise
            self.direct_message(user, SlackMessage(text=text, blocks=blocks or []))

    def direct_message(self, user: str, message: SlackMessage) -> str:
        """Post in the DM with `user`, opened once (conversations.open allows only about 20 calls a
        minute) and then reused; returns the DM channel id."""
        channel = self._dm_channels.get(user)
        if channel is None:
            channel = str(self._call("conversations.open", users=user)["channel"]["id"])
            self._dm_channels[user] = channel
        try:
            self.post(channel, message)
        except SlackApiError:
            self._dm_channels.pop(user, None)  # perhaps closed to the bot since: open it afresh next time
            raise
        return channel

    def post_once(
        self,
        channel: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
        retrying: bool,
        match: dict[str, Any],
        since: float = 0.0,
    ) -> str:
        """Post `message` unless an earlier attempt already did; returns the ts of the one post.

        `retrying` says that an earlier attempt may have reached Slack (the caller noted the attempt
        durably before it); then the bot's messages in the thread (or, top level, in the channel since
        `since`) are searched first for one whose metadata has the message's event type and the
        payload fields in `match`.
        """
        event_type = (message.metadata or {}).get("event_type")
        if retrying and event_type:
            for found in self._bot_posts(channel, thread_ts, since):
                meta = found["metadata"]
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == event_type and match.items() <= payload.items():
                    log.info("an earlier attempt had posted the %s message; not posting it again", event_type)
                    return str(found["ts"])
        return self.post(channel, message, thread_ts=thread_ts)

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """Show `view` as `user`'s App Home tab."""
        self._call("views.publish", user_id=user, view=view)

    def join(self, channel: str) -> bool:
        """Join a public channel (conversations.join), once per channel for this process, so that its
        thread replies reach the bot; False where the bot cannot join (a private channel, archived,
        gone, or the scope missing): it must be invited there."""
        if channel in self._joined:
            return True
        try:
            self._call("conversations.join", channel=channel)
        except SlackApiError as exc:
            log.info("could not join %s (%s)", channel, slack_error(exc))
            return False
        self._joined.add(channel)
        return True

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal (views.open); Slack accepts the trigger only within 3 s of the click, so this
        is called at once, before the ack, not from a job."""
        self._call("views.open", trigger_id=trigger_id, view=view)

    def respond(self, response_url: str, text: str) -> None:
        """Answer a slash command privately through its response_url (valid 30 min, 5 answers)."""
        response = WebhookClient(response_url, timeout=15).send(text=text, response_type="ephemeral")
        outcome = "ok" if response.status_code == 200 else f"http_{response.status_code}"
        self._on_call("response_url", outcome)
        if response.status_code == 429 or response.status_code >= 500:
            raise OSError(f"response_url answered HTTP {response.status_code}")
