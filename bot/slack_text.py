"""Slack message text as plain prompt text: the one decoder every path from Slack to an agent goes through.

Slack sends message text with three characters escaped (`&amp;` `&lt;` `&gt;`) and its markup in angle
brackets (https://docs.slack.dev/messaging/formatting-message-text): `<@U123>` members, `<#C123|name>`
channels, `<!subteam^S123|@team>` user groups, `<!here>` `<!channel>` `<!everyone>`,
`<!date^1392734382^{date}|Feb 18>` dates, and links `<https://x>`, `<https://x|label>`,
`<mailto:a@b.c|a@b.c>`. `decode` undoes all of it in one pass, so every entity is decoded exactly once;
it never raises. Messages written only in rich text (`text` empty) are read from their `blocks`.

Members are the one thing that needs Slack to name: `decode` without `names` keeps them as `<@U123>`,
and `name_members` (called by the workers, which may call Slack) turns those into `@Name` later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Names = Callable[[str], str]  # a Slack user id -> the name Slack shows (the id itself when unknown)

NAME_CHAR_CAP = 80  # Slack's own limit on display names

_MARKUP_RE = re.compile(r"<([^<>\n]*)>|&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_ENTITY_RE = re.compile(r"&(amp|lt|gt);")
_MEMBER_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^<>]*))?>")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_SCHEME_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Rich-text elements written in Slack's markup: type -> (form, the element's field, its default).
_RICH_MARKUP = {
    "user": ("<@{}>", "user_id", ""),
    "channel": ("<#{}>", "channel_id", ""),
    "usergroup": ("<!subteam^{}>", "usergroup_id", ""),
    "broadcast": ("<!{}>", "range", "here"),
    "emoji": (":{}:", "name", ""),
}
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def decode(text: str, names: Names | None = None) -> str:
    """Slack-encoded `text` as plain text (shape: str -> str, total, never raises).

    `<@U123>` becomes `@Name` through `names`, else `@label` when Slack sent one, else `@U123`; without
    `names` it stays `<@U123>` for `name_members`. Channels read `#name`, user groups `@team`, special
    mentions `@here`, dates their fallback text, links `label (url)` or just the url (`mailto:` dropped),
    anything else in angle brackets is kept as written.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return _ENTITIES[match.group(2)]
        inner = match.group(1)
        target, _, label = inner.partition("|")
        label = _unescape(label)
        if target.startswith("@") and _MEMBER_RE.fullmatch(f"<{target}>"):
            return _member(target[1:], label, names)
        if target.startswith("#") and len(target) > 1:
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return _special(target[1:], label)
        if _SCHEME_RE.match(target):
            return _link(_unescape(target), label)
        return _unescape(match.group(0))

    return _MARKUP_RE.sub(replace, text)


def name_members(text: str, names: Names | None) -> str:
    """`text` with each member kept as `<@U123>` (or `<@U123|label>`) by `decode` written `@Name`."""
    return _MEMBER_RE.sub(lambda match: _member(match[1], match[2] or "", names), text)


def message_text(message: Mapping[str, Any], names: Names | None = None) -> str:
    """A Slack message (as the Events and Web APIs give it) as plain text: `decode(encoded_text(message))`."""
    return decode(encoded_text(message), names)


def encoded_text(message: Mapping[str, Any]) -> str:
    """A message's text in Slack's encoding: its `text`, or, when that is empty (a message written only
    in rich text), its `rich_text` blocks written out the same way."""
    text = str(message.get("text") or "")
    return text if text.strip() else rich_text(message.get("blocks") or [])


def at_name(user_id: str, names: Names | None) -> str | None:
    """`@Name` for a member as one short line, or None when `names` does not know them."""
    name = " ".join(str(names(user_id) or "").split())[:NAME_CHAR_CAP] if names else ""
    return f"@{name}" if name and name != user_id else None


def rich_text(blocks: Iterable[Mapping[str, Any]]) -> str:
    """The `rich_text` blocks of a message (https://docs.slack.dev/reference/block-kit/blocks/rich-text-block)
    as Slack-encoded text: sections as lines, lists as `•`/`1.` items, preformatted text fenced with ```,
    quotes as `> ` lines; members, channels, groups and links in Slack's angle-bracket markup."""
    parts = [
        _rich_element(element)
        for block in blocks
        if isinstance(block, Mapping) and block.get("type") == "rich_text"
        for element in block.get("elements") or []
    ]
    return "\n".join(part for part in parts if part).strip()


def escape(text: str) -> str:
    """Plain text in Slack's encoding (`&` `<` `>` as entities), so that `decode(escape(t)) == t`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    return _ENTITY_RE.sub(lambda match: _ENTITIES[match[1]], text)


def _member(user_id: str, label: str, names: Names | None) -> str:
    if names is None:
        return f"<@{user_id}|{label}>" if label else f"<@{user_id}>"
    return at_name(user_id, names) or f"@{label.removeprefix('@') or user_id}"


def _special(command: str, label: str) -> str:
    """`<!here>`, `<!subteam^S1|@team>`, `<!date^…|fallback>` and the like, as people read them."""
    name, _, argument = command.partition("^")
    if name in _SPECIAL:
        return _SPECIAL[name]
    if name == "subteam":
        return f"@{label.removeprefix('@') or argument.partition('^')[0] or 'team'}"
    if label:
        return label
    return f"@{name}" if name else ""


def _link(url: str, label: str) -> str:
    """`label (url)`, or just the url when the label only repeats (the start of) it, as Slack's automatic
    links do."""
    shown = url.removeprefix("mailto:")
    if not label or label in (url, shown) or _SCHEME_PREFIX_RE.sub("", url).startswith(label):
        return shown
    return f"{label} ({shown})"


def _rich_element(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    inner = element.get("elements") or []
    if kind == "rich_text_preformatted":
        return f"```\n{_rich_inline(inner)}\n```"
    if kind == "rich_text_quote":
        return "\n".join(f"&gt; {line}" for line in _rich_inline(inner).split("\n"))
    if kind == "rich_text_list":
        indent = "  " * int(element.get("indent") or 0)
        ordered = element.get("style") == "ordered"
        start = int(element.get("offset") or 0) + 1
        return "\n".join(
            f"{indent}{f'{number}.' if ordered else '•'} {_rich_element(item)}"
            for number, item in enumerate(inner, start=start)
        )
    return _rich_inline(inner)


def _rich_inline(elements: Iterable[Mapping[str, Any]]) -> str:
    out: list[str] = []
    for element in elements:
        kind = str(element.get("type"))
        if kind == "link":
            label = escape(str(element.get("text") or ""))
            out.append(f"<{element.get('url') or ''}{'|' + label if label else ''}>")
        elif kind in _RICH_MARKUP:
            form, field, default = _RICH_MARKUP[kind]
            out.append(form.format(element.get(field) or default))
        elif kind == "date":
            out.append(escape(str(element.get("fallback") or element.get("timestamp") or "")))
        else:
            out.append(escape(str(element.get("text") or "")))
    return "".join(out)
