"""Slack mrkdwn for the bot's own texts: escaping and links. (Agents' results are Markdown, which Slack
renders itself: see bot.render.markdown.)

Slack only gives meaning to three characters in text, `&`, `<` and `>`, which must be sent as
`&amp;`, `&lt;` and `&gt;` (https://docs.slack.dev/messaging/formatting-message-text).
"""

from __future__ import annotations

import re


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so `text` shows exactly as written (user prompts, titles)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str = "") -> str:
    """`<url|label>`; `label` must already be mrkdwn (escaped). Characters that end a link are
    percent-encoded in the url."""
    safe = re.sub(r"\s", "%20", url)
    safe = safe.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{label}>" if label else f"<{safe}>"
