"""What a reader gets from posted result blocks: their words and their working links (for the golden
corpus, the Markdown property test and bench/render_choice.py)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from typing import Any

from markdown_it import MarkdownIt

from bot.render.markdown import trim_url

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_WORD_RE = re.compile(r"[^\W_]{2,}")
_FENCE_INFO_RE = re.compile(r"(?m)^(\s*(?:`{3,}|~{3,}))[^\n`]*$")
_CODE_RE = re.compile(r"(?ms)^\s*(`{3,}|~{3,}).*?^\s*\1|(`+)(?:.*?[^`])??\2(?!`)")
_SLACK_LINK_RE = re.compile(r"<((?:https?|mailto):[^\s<>|]+)\|[^<>\n]*>")
_MARKDOWN_LINK_RE = re.compile(r"\]\(\s*(<[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)")
_AUTOLINK_RE = re.compile(r"<((?:https?|mailto):[^\s<>|]*)>")
_EMAIL_RE = re.compile(r"<([\w.+-]+@[\w.-]+)>")
_BARE_URL_RE = re.compile(r"(?<![<\w/=\"'(])https?://[^\s<>\[\]`|]+|(?<=\()https?://[^\s<>\[\]`|]+")


def words(text: str) -> set[str]:
    """The words (two or more letters or digits) a reader sees in `text`, code-block languages aside."""
    return set(_WORD_RE.findall(html.unescape(_FENCE_INFO_RE.sub(r"\1", text))))


def input_urls(markdown: str) -> set[str]:
    """The URLs an agent wrote in `markdown` (outside code), as a Markdown parser normalizes them."""
    text = _CODE_RE.sub(" ", markdown)
    found = {m[1] for m in _SLACK_LINK_RE.finditer(text)}
    text = _SLACK_LINK_RE.sub(" ", text)
    found |= {m[1].strip("<>").replace("\\", "") for m in _MARKDOWN_LINK_RE.finditer(text)}
    text = _MARKDOWN_LINK_RE.sub("](", text)
    found |= {m[1] for m in _AUTOLINK_RE.finditer(text)}
    found |= {f"mailto:{m[1]}" for m in _EMAIL_RE.finditer(text)}
    text = _EMAIL_RE.sub(" ", _AUTOLINK_RE.sub(" ", text))
    found |= {trim_url(m.group()) for m in _BARE_URL_RE.finditer(text)}
    return {PARSER.normalizeLink(url) for url in found if re.match(r"(https?|mailto):", url)}


def posted_links(blocks: Iterable[dict[str, Any]]) -> set[str]:
    """The link targets of posted markdown and table blocks, as Slack would make them clickable (its
    markdown block shows an image as a link to it)."""
    links: set[str] = set()
    for block in blocks:
        if block["type"] == "markdown":
            for token in PARSER.parse(block["text"]):
                for child in token.children or []:
                    if child.type in ("link_open", "image"):
                        links.add(str(child.attrs.get("href") or child.attrs.get("src")))
        links |= {str(element["url"]) for element in _cell_elements(block) if element["type"] == "link"}
    return links


def posted_words(blocks: Iterable[dict[str, Any]]) -> str:
    """All text of posted markdown and table blocks, as one string."""
    texts: list[str] = []
    for block in blocks:
        if block["type"] == "markdown":
            texts.append(block["text"])
        texts.extend(f"{e['text']} {e.get('url', '')}" for e in _cell_elements(block))
    return "\n".join(texts)


def _cell_elements(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if block["type"] != "table":
        return
    for row in block["rows"]:
        for cell in row:
            for section in cell.get("elements", []):
                yield from section["elements"]
