"""Watch rules, the pure part: which messages a rule looks at, the text it matches, how a repeated
alert is recognised, and the prompt of the run it starts.

Patterns are regular expressions in RE2's syntax (https://github.com/google/re2/wiki/Syntax), matched
case-insensitively anywhere in the message. RE2 matches in time linear in the text, whatever the
pattern, so no rule an admin writes can hang the bot on a long message (Python's `re` backtracks
and has no timeout); what it gives up is backreferences and lookarounds, refused with RE2's reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import re2

from bot.slack_text import decode, encoded_text, rich_text

PATTERN_MAX_CHARS = 300
TEMPLATE_MAX_CHARS = 2_000
MATCHED_TEXT_MAX_CHARS = 20_000  # of a message's text that patterns see and the prompt quotes
# Message subtypes a rule looks at: people's messages, other apps' and bots' posts.
WATCHED_SUBTYPES = frozenset({None, "bot_message", "file_share"})
DEFAULT_TEMPLATE = (
    "This message was posted in Slack ({permalink}). Find out what went wrong and fix it; "
    "open a pull request with the fix.\n\n{text}"
)
TEXT, PERMALINK = "{text}", "{permalink}"

# What differs between two posts of one alert: timestamps, ids, hashes, numbers, links.
_URL_RE = re.compile(r"https?://\S+|<[^<>\s]*://[^<>]*>")
_HEX_ID_RE = re.compile(r"\b(?=[0-9a-f-]*[0-9])[0-9a-f-]{7,}\b", re.IGNORECASE)
_DIGITS_RE = re.compile(r"\d+")
_SPACE_RE = re.compile(r"\s+")


class BadPattern(ValueError):
    """A pattern a rule cannot use; the message says why, in words for the admin."""


def compile_pattern(pattern: str) -> Any:
    """`pattern` compiled by RE2 (case-insensitive); raises BadPattern with the reason."""
    if not pattern.strip():
        raise BadPattern("The pattern is empty.")
    if len(pattern) > PATTERN_MAX_CHARS:
        raise BadPattern(f"The pattern is {len(pattern)} characters; keep it under {PATTERN_MAX_CHARS}.")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise BadPattern(
            f"`{pattern}` is not a pattern I can use ({reason}). Patterns are regular expressions without"
            " backreferences or lookarounds, e.g. `build failed|error rate`."
        ) from None


def is_watched(event: Mapping[str, Any], bot_user_id: str | None, bot_id: str | None) -> bool:
    """Whether a channel message is one rules look at: a new top-level post by a person, another app
    or a bot; never the bot's own, an edit or deletion, a thread reply, or a mention of the bot (the
    mention starts its own run)."""
    if event.get("subtype") not in WATCHED_SUBTYPES or event.get("hidden"):
        return False
    if (bot_user_id and event.get("user") == bot_user_id) or (bot_id and event.get("bot_id") == bot_id):
        return False
    thread_ts = event.get("thread_ts")
    if thread_ts and thread_ts != event.get("ts"):
        return False
    return not (bot_user_id and f"<@{bot_user_id}" in str(event.get("text") or ""))


def from_source(event: Mapping[str, Any], source: str | None) -> bool:
    """Whether the message comes from `source`: a bot id (B…), app id (A…), member id (U…) or the
    bot's or app's name as Slack shows it (any case); every message when `source` is None."""
    if not source:
        return True
    profile = event.get("bot_profile") or {}
    ids = {event.get(k) for k in ("bot_id", "app_id", "user")} | {profile.get("id"), profile.get("app_id")}
    names = {event.get("username"), profile.get("name")}
    wanted = source.removeprefix("@").strip()
    return wanted in ids or wanted.casefold() in {str(n).casefold() for n in names if n}


def watched_text(event: Mapping[str, Any]) -> str:
    """Everything a message says, as plain text: its text, its attachments' pretext, title, text and
    fields (the fallback when an attachment has nothing else), and its blocks' text; at most
    MATCHED_TEXT_MAX_CHARS characters."""
    parts = [decode(encoded_text(event))]
    for attachment in event.get("attachments") or []:
        if isinstance(attachment, Mapping):
            parts.append(_attachment_text(attachment))
    if str(event.get("text") or "").strip():  # rich-text-only messages were read from blocks above
        parts.append(decode(_blocks_text(event.get("blocks") or [])))
    seen: list[str] = []
    for part in (p.strip() for p in parts):
        if part and part not in seen:
            seen.append(part)
    return "\n".join(seen)[:MATCHED_TEXT_MAX_CHARS]


def fingerprint(text: str) -> str:
    """The same alert posted twice gets the same fingerprint: the text without links, ids, hashes,
    numbers, case and spacing, hashed."""
    normal = _DIGITS_RE.sub("", _HEX_ID_RE.sub("", _URL_RE.sub("", text.casefold())))
    return hashlib.sha256(_SPACE_RE.sub(" ", normal).strip().encode()).hexdigest()


def fill_template(template: str | None, *, text: str, permalink: str, max_chars: int) -> str:
    """The run's prompt: `template` (DEFAULT_TEMPLATE when None) with `{text}` replaced by the message
    and `{permalink}` by its link; what the template leaves out is added after it. The message is
    cut so that the prompt stays within `max_chars`."""
    template = template or DEFAULT_TEMPLATE
    if TEXT not in template:
        template += f"\n\n{TEXT}"
    if PERMALINK not in template:
        template += f"\n{PERMALINK}"
    room = max_chars - len(template.replace(TEXT, "").replace(PERMALINK, permalink)) - 60
    if len(text) > room:
        text = f"{text[: max(0, room)]}\n[…{len(text) - max(0, room):,} more characters left out]"
    return template.replace(PERMALINK, permalink).replace(TEXT, text)


def _attachment_text(attachment: Mapping[str, Any]) -> str:
    fields = [f"{f.get('title') or ''}: {f.get('value') or ''}" for f in attachment.get("fields") or []
              if isinstance(f, Mapping)]  # fmt: skip
    parts = [attachment.get(k) for k in ("pretext", "author_name", "title", "text")] + fields
    parts = [str(p) for p in parts if p]
    if not parts and attachment.get("fallback"):
        parts = [str(attachment["fallback"])]
    parts.append(_blocks_text(attachment.get("blocks") or []))
    return decode("\n".join(p for p in parts if p))


def _blocks_text(blocks: Iterable[Any]) -> str:
    """The Slack-encoded text of section, header, context and rich text blocks."""
    lines: list[str] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "rich_text":
            lines.append(rich_text([block]))
            continue
        texts = [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]
        lines.extend(str(t.get("text") or "") for t in texts if isinstance(t, Mapping) and "text" in t
                     and isinstance(t.get("text"), str))  # fmt: skip
    return "\n".join(line for line in lines if line)
