"""Slack's size limits, and splitting or shortening mrkdwn to fit them."""

from __future__ import annotations

import re
from typing import Any

TEXT_MAX = 40_000  # chat.postMessage `text`; Slack truncates beyond this
MESSAGE_TEXT_MAX = 3_900  # what we put in one message's `text`, to stay readable
SECTION_TEXT_MAX = 3_000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_URL_MAX = 3_000
BLOCKS_PER_MESSAGE_MAX = 50
BLOCKS_TEXT_BUDGET = 12_000  # Slack rejects ~13,000 with msg_blocks_too_long; keep a margin
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25

_FENCE = "```"
_REOPEN = "```\n"
_CLOSE = "\n```"
_MIN_SPLIT_LIMIT = 16
_PARTIAL_ENTITY_RE = re.compile(r"&[#A-Za-z0-9]{0,8}$")
_ENTITY_REST_RE = re.compile(r"[#A-Za-z0-9]{0,8};")


def blocks_text_length(blocks: list[dict[str, Any]]) -> int:
    """Characters in all strings of `blocks`: an upper bound for what msg_blocks_too_long counts."""

    def size(value: Any) -> int:
        if isinstance(value, str):
            return len(value)
        if isinstance(value, dict):
            return sum(map(size, value.values()))
        if isinstance(value, list):
            return sum(map(size, value))
        return 0

    return size(blocks)


def split_text(text: str, limit: int) -> list[str]:
    """Split mrkdwn into chunks of at most `limit` characters.

    Prefers paragraph, then line, then word boundaries; hard-splits a word longer than a chunk.
    A code fence open at a cut is closed in this chunk and reopened in the next. Only
    whitespace at the cuts is dropped, and chunks that would be blank are left out.
    """
    if limit < _MIN_SPLIT_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_SPLIT_LIMIT}, got {limit}")
    chunks: list[str] = []
    rest = text
    reopen = ""
    while rest.strip():
        if reopen and rest.startswith(_FENCE):  # the fence closes right here: no empty block
            rest, reopen = rest[len(_FENCE) :].lstrip("\n"), ""
            continue
        whole = reopen + rest
        if _fence_open(whole):
            whole += _CLOSE
        if len(whole) <= limit:
            chunks.append(whole)
            break
        cut = _next_cut(rest, reopen, limit)
        body = rest[:cut].rstrip()
        rest = rest[cut:]
        rest = rest.lstrip("\n") if rest.startswith("\n") else rest.lstrip(" \t")
        if not body.strip():
            continue
        chunk = reopen + body
        reopen = ""
        if _fence_open(chunk):
            chunk += _CLOSE
            reopen = _REOPEN
        chunks.append(chunk)
    return chunks


def truncate(text: str, limit: int, marker: str = "…") -> str:
    """`text` cut to at most `limit` characters, ending in `marker` when shortened.

    Does not cut inside a link, an entity or a backtick run, and closes a code fence it cuts.
    """
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return marker[: max(limit, 0)]
    room = limit - len(marker)
    head = text[: _back_off(text, room)].rstrip()
    if _fence_open(head) and room > len(_CLOSE):
        head = text[: _back_off(text, room - len(_CLOSE))].rstrip()
        if _fence_open(head):
            head += _CLOSE
    return head + marker


def _fence_open(text: str) -> bool:
    """Whether `text` leaves a code block open (Slack pairs ``` wherever they are)."""
    return text.count(_FENCE) % 2 == 1


def _next_cut(rest: str, reopen: str, limit: int) -> int:
    """Where the next chunk ends; room for closing a fence is kept only when one is left open."""
    full = limit - len(reopen)
    for budget in (full, full - len(_CLOSE)):
        cut = _find_cut(rest, budget)
        body = rest[:cut].rstrip()
        if _fence_open(reopen + body) and body.endswith(_FENCE):
            # A fence opening right at the cut moves to the next chunk; if nothing comes before
            # it, the line after it is too long for a chunk and gets split instead.
            cut = len(body) - len(_FENCE) if body[: -len(_FENCE)].strip() else _back_off(rest, budget)
            body = rest[:cut].rstrip()
        if not _fence_open(reopen + body):
            return cut
    return cut


def _find_cut(text: str, budget: int) -> int:
    """Where to cut `text` so that `text[:cut]` has at most `budget` characters (cut >= 1)."""
    window = text[: budget + 1]
    for minimum in (budget // 2, 1):
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= minimum:
                return _back_off(text, at)
    return _back_off(text, budget)


def _back_off(text: str, cut: int) -> int:
    """Move a cut back out of a `<link>`, an `&entity;` or a run of backticks, if possible."""
    head = text[:cut]
    candidates = [cut]
    opening = head.rfind("<")
    if opening > head.rfind(">") and ">" in text[cut:]:
        candidates.append(opening)
    entity = _PARTIAL_ENTITY_RE.search(head)
    if entity and _ENTITY_REST_RE.match(text, cut):
        candidates.append(entity.start())
    if 0 < cut < len(text) and text[cut - 1] == text[cut] == "`":
        candidates.append(len(head.rstrip("`")))
    best = min(candidates)
    return best if best > 0 else cut
