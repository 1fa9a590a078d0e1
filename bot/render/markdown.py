"""What an agent writes (GitHub-flavoured Markdown) as Slack blocks: `markdown` blocks, and `table` blocks.

Slack renders standard Markdown itself in the `markdown` block
(https://docs.slack.dev/reference/block-kit/blocks/markdown-block), except code-block languages,
horizontal rules, tables and task lists; tables have their own `table` block
(https://docs.slack.dev/reference/block-kit/blocks/table-block: at most 100 rows of 20 cells, one
table per message, sent in the message's attachments). markdown-it-py parses the text; this module
only bridges those gaps, so no word is lost and every URL stays a link:

- Slack-style links `<url|label>` (which agents write) become `[label](url)`; bare URLs become
  autolinks `<url>` (a closing parenthesis that does not belong to the URL stays outside).
- Slack's mention markup (`<!channel>`, `<@U123>`, `<#C123>`) is escaped: an agent cannot ping.
- Code-block languages are dropped; task-list boxes read ☐ / ☑; rules become a line of `─`.
- Tables become `table` blocks with rich-text cells (emphasis, code and links kept), split every
  `TABLE_ROWS_MAX - 1` rows with the header repeated; a table wider than `TABLE_COLUMNS_MAX` stays text
  in a code block.

Text is split into blocks of at most `chunk` characters at paragraph, line or word boundaries (code
blocks are closed and reopened at a cut), by bot.render.limits.split_text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.render.limits import split_text

MARKDOWN_TEXT_MAX = 12_000  # one markdown block, and all markdown blocks of one message together
TABLE_ROWS_MAX = 100
TABLE_COLUMNS_MAX = 20
RULE = "─" * 12

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_SLACK_LINK_RE = re.compile(r"<((?:https?|mailto|ftp):[^\s<>|]+)\|([^<>\n]*)>")
_SLACK_MENTION_RE = re.compile(r"<(?=[!@#])")
_BARE_URL_RE = re.compile(r"(?<![<\w/=\"'])https?://[^\s<>\[\]`]+")
_URL_TRAILING_RE = re.compile(r"[.,:;!?\"'*_~]+$")
_CODE_SPAN_RE = re.compile(r"(`+)(?:.*?[^`])??\1(?!`)")
_MARKDOWN_LINK_TAIL_RE = re.compile(r"\]\([^)\s]*$")
_TASK_RE = re.compile(r"^(\s*(?:>\s*)*(?:[-*+]|\d{1,9}[.)])\s+)\[([ xX])\](?=\s)")
_FENCE_OPEN_RE = re.compile(r"^(\s*(?:>\s*)*\s*)(`{3,}|~{3,})(.*)$")


def markdown_blocks(markdown: str, chunk: int = 3_000) -> list[dict[str, Any]]:
    """`markdown` as `markdown` blocks (each at most `chunk` characters) and `table` blocks, in order."""
    source = _bridge(markdown.replace("\r\n", "\n").replace("\r", "\n"))
    lines = source.split("\n")
    blocks: list[dict[str, Any]] = []
    text: list[str] = []
    cursor = 0  # the first source line not yet placed
    tokens = _PARSER.parse(source)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        end = _block_end(tokens, index)
        start_line, end_line = token.map or (cursor, cursor)
        if token.type == "table_open" and _columns(tokens[index:end]) <= TABLE_COLUMNS_MAX:
            blocks.extend(_text_blocks("\n".join([*text, *lines[cursor:start_line]]), chunk))
            blocks.extend(_tables(tokens[index:end]))
            text, cursor = [], end_line
        elif token.type == "table_open":
            text.extend([*lines[cursor:start_line], "```", *lines[start_line:end_line], "```"])
            cursor = end_line
        elif token.type == "hr":
            text.extend([*lines[cursor:start_line], RULE])
            cursor = end_line
        index = end
    text.extend(lines[cursor:])
    blocks.extend(_text_blocks("\n".join(text), chunk))
    return blocks


def _bridge(source: str) -> str:
    """Rewrite what Slack's markdown block does not take (see the module docstring), outside code."""
    lines = source.split("\n")
    code, openers = _code_lines(source)
    for number, line in enumerate(lines):
        if number in code:
            continue
        fence = _FENCE_OPEN_RE.match(line)
        if fence and number in openers:  # the opening line of a fenced code block: drop the language
            lines[number] = fence[1] + fence[2]
            continue
        line = _TASK_RE.sub(lambda m: m[1] + ("☐" if m[2] == " " else "☑"), line)
        lines[number] = _outside_code_spans(line)
    return "\n".join(lines)


def _code_lines(source: str) -> tuple[set[int], set[int]]:
    """The line numbers inside code blocks (the contents of fences, not their fence lines), and those
    of the lines that open a fence."""
    inside: set[int] = set()
    openers: set[int] = set()
    lines = source.split("\n")
    for token in _PARSER.parse(source):
        if token.type == "fence" and token.map:
            start, end = token.map
            closed = end - start > 1 and token.markup in lines[end - 1]
            inside.update(range(start + 1, end - 1 if closed else end))
            openers.add(start)
        elif token.type == "code_block" and token.map:
            inside.update(range(*token.map))
    return inside, openers


def _outside_code_spans(line: str) -> str:
    """Slack-style links and bare URLs rewritten, except inside `code spans`."""
    out, position = [], 0
    for span in _CODE_SPAN_RE.finditer(line):
        out.append(_links(line[position : span.start()]))
        out.append(span.group())
        position = span.end()
    out.append(_links(line[position:]))
    return "".join(out)


def _links(text: str) -> str:
    text = _SLACK_LINK_RE.sub(lambda m: f"[{m[2] or m[1]}]({_destination(m[1])})", text)
    text = _SLACK_MENTION_RE.sub(r"\\\g<0>", text)  # shown as written, never a ping
    return _BARE_URL_RE.sub(_autolink, text)


def _autolink(match: re.Match[str]) -> str:
    if _MARKDOWN_LINK_TAIL_RE.search(match.string[: match.start()]):
        return match.group()  # already the destination of a [label](url)
    url = trim_url(match.group())
    return f"<{url}>{match.group()[len(url) :]}"


def trim_url(url: str) -> str:
    """A bare URL without trailing punctuation or a `)` that closes something outside it."""
    while True:
        trimmed = _URL_TRAILING_RE.sub("", url)
        if trimmed.endswith(")") and trimmed.count(")") > trimmed.count("("):
            trimmed = trimmed[:-1]
        if trimmed == url:
            return url
        url = trimmed


def _destination(url: str) -> str:
    """A link destination CommonMark reads whole: in angle brackets when it has spaces or parentheses."""
    return f"<{url}>" if re.search(r"[\s()]", url) else url


def _block_end(tokens: list[Token], index: int) -> int:
    """The index after the top-level block that starts at `index`."""
    if tokens[index].nesting != 1:
        return index + 1
    depth = 0
    for position in range(index, len(tokens)):
        depth += tokens[position].nesting
        if depth == 0:
            return position + 1
    return len(tokens)


def _text_blocks(text: str, chunk: int) -> Iterator[dict[str, Any]]:
    for part in split_text(text.strip(), min(chunk, MARKDOWN_TEXT_MAX)) if text.strip() else []:
        yield {"type": "markdown", "text": part}


def _rows(tokens: list[Token]) -> list[list[Token]]:
    """A table's rows as lists of their cells' inline tokens."""
    rows: list[list[Token]] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(token)
    return rows


def _columns(tokens: list[Token]) -> int:
    return max((len(row) for row in _rows(tokens)), default=0)


def _tables(tokens: list[Token]) -> Iterator[dict[str, Any]]:
    """One `table` block per TABLE_ROWS_MAX rows, each led by the header row."""
    rows = [[_cell(inline) for inline in row] for row in _rows(tokens)]
    header, body = rows[0], rows[1:]
    for start in range(0, max(len(body), 1), TABLE_ROWS_MAX - 1):
        yield {"type": "table", "rows": [header, *body[start : start + TABLE_ROWS_MAX - 1]]}


def _cell(inline: Token) -> dict[str, Any]:
    """A table cell as rich text: text with its bold / italic / strike / code styles, and links."""
    elements: list[dict[str, Any]] = []
    style: dict[str, bool] = {}
    link: str | None = None
    for child in inline.children or []:
        kind = child.type
        if kind.endswith("_open") or kind.endswith("_close"):
            name = {"strong": "bold", "em": "italic", "s": "strike"}.get(kind.rsplit("_", 1)[0])
            if name:
                style[name] = kind.endswith("_open")
            elif kind == "link_open":
                link = str(child.attrs.get("href") or "")
            elif kind == "link_close":
                link = None
            continue
        text = child.content if kind != "softbreak" else " "
        if kind == "image":
            text = child.content or str(child.attrs.get("src") or "")
        if not text:
            continue
        element: dict[str, Any] = {"type": "link", "url": link} if link else {"type": "text"}
        element["text"] = text
        active = {name: True for name, on in style.items() if on}
        if kind == "code_inline":
            active["code"] = True
        if active:
            element["style"] = active
        elements.append(element)
    if not elements:
        elements = [{"type": "text", "text": " "}]
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}
