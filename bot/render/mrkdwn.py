"""Convert the GitHub-flavoured Markdown that Codegen agents write into Slack mrkdwn.

Slack only gives meaning to three characters in text, `&`, `<` and `>`, which must be sent as
`&amp;`, `&lt;` and `&gt;`. That holds inside code as well: Slack decodes the entities there too,
so code is escaped and otherwise kept as written. Every input character becomes at most five
output characters (`&` -> `&amp;`), and closing an unclosed code fence adds four, hence
`len(to_mrkdwn(s)) <= 5 * len(s) + 4`.

Not handled (shown as text): setext headings, indented code blocks, raw HTML, reference links.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

_FENCE_OPEN_RE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")
_CLOSING_HASHES_RE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_RULE_RE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE_RE = re.compile(r"^(?: {0,3}>)+ ?")
_BULLET_RE = re.compile(r"^([ \t]*)[-*+](?:[ \t]+(.*))?$")
_TASK_RE = re.compile(r"^\[([ xX])\][ \t]+")
_TABLE_DELIMITER_RE = re.compile(r"^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$")

_LINK_RE = re.compile(
    r"""
    \[ (?P<label> (?: [^\[\]\\\n] | \\. | \[ (?: [^\[\]\\\n] | \\. )* \] ){0,1000} ) \]
    \( [ \t]*
    (?P<url> <[^<>\n]*> | (?: [^\s()\\] | \\. | \( [^\s()]* \) )* )
    (?: [ \t]+ (?: "[^"\n]*" | '[^'\n]*' | \( [^()\n]* \) ) )?
    [ \t]* \)
    """,
    re.VERBOSE,
)
_AUTOLINK_RE = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_EMAIL_AUTOLINK_RE = re.compile(r"<([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+)>")
_BARE_URL_RE = re.compile(r"https?://[^\s<>]+")
_URL_TRAILING_RE = re.compile(r"[.,:;!?\"'*_~]+$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,31}:")
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BACKSLASH_RE = re.compile(r"\\(.)")
_SPECIAL_RE = re.compile(r"[\\`!\[<&*_~]|(?<![\w/])https?://")
_SPECIAL_IN_LINK_RE = re.compile(r"[\\`&*_~]")
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

_FENCE = "```"
_RULE = "─" * 10


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so `text` shows exactly as written (user prompts, titles)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str = "") -> str:
    """`<url|label>`; `label` must already be mrkdwn (escaped). Characters that end a link are
    percent-encoded in the url."""
    safe = re.sub(r"\s", "%20", url)
    safe = safe.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{label}>" if label else f"<{safe}>"


def to_mrkdwn(markdown: str) -> str:
    """Convert agent-written Markdown to Slack mrkdwn; never raises."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    fence: tuple[str, int, int] | None = None  # fence character, fence length, indentation
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if fence is not None:
            if _closes_fence(line, fence):
                out.append(_FENCE)
                fence = None
            else:
                out.append(escape_mrkdwn(_dedent(line, fence[2])))
            continue
        opener = _FENCE_OPEN_RE.match(line)
        if opener and not (opener.group(2)[0] == "`" and "`" in opener.group(3)):
            fence = (opener.group(2)[0], len(opener.group(2)), len(opener.group(1)))
            out.append(_FENCE)
            continue
        if "|" in line and i < len(lines) and _is_table_delimiter(lines[i]):
            rows = [line]
            while i < len(lines) and lines[i].strip() and "|" in lines[i]:
                rows.append(lines[i])
                i += 1
            out.extend([_FENCE, *map(escape_mrkdwn, rows), _FENCE])
            continue
        out.append(_block_line(line))
    if fence is not None:
        out.append(_FENCE)
    return "\n".join(out)


def _closes_fence(line: str, fence: tuple[str, int, int]) -> bool:
    stripped = line.strip()
    char, length, _ = fence
    return len(stripped) >= length and stripped == char * len(stripped)


def _dedent(line: str, indent: int) -> str:
    """Remove up to `indent` leading spaces, as GFM does for the lines of an indented fence."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


def _is_table_delimiter(line: str) -> bool:
    return "|" in line and "-" in line and _TABLE_DELIMITER_RE.match(line) is not None


def _block_line(line: str) -> str:
    """Convert one line outside code: heading, rule, quote, bullet, or plain text."""
    line = line.rstrip()
    if not line:
        return ""
    heading = _HEADING_RE.match(line)
    if heading:
        content = _CLOSING_HASHES_RE.sub("", heading.group(2) or "").strip()
        inner = _inline(content, strong="").strip()
        return f"*{inner}*" if inner else ""
    if _RULE_RE.match(line):
        return _RULE
    quote = _QUOTE_RE.match(line)
    if quote:
        rest = _block_line(line[quote.end() :])
        return f"> {rest}" if rest else ">"
    bullet = _BULLET_RE.match(line)
    if bullet:
        content = bullet.group(2) or ""
        task = _TASK_RE.match(content)
        if task:
            box = "☐" if task.group(1) == " " else "☑"
            content = f"{box} {content[task.end() :]}"
        return f"{bullet.group(1)}• {_inline(content)}".rstrip()
    return _inline(line)


@dataclass(slots=True)
class _Raw:
    """Finished mrkdwn that emphasis must not look into."""

    text: str


@dataclass(slots=True)
class _Delim:
    """A run of `*`, `_` or `~` that may open or close emphasis."""

    char: str
    count: int
    can_open: bool
    can_close: bool
    index: int = 0
    opens: list[str] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)

    def render(self) -> str:
        return "".join(self.closes) + self.char * self.count + "".join(reversed(self.opens))


_Node = str | _Raw | _Delim


def _inline(text: str, *, strong: str = "*", links: bool = True) -> str:
    """Convert the inline Markdown of one line; `strong` is the bold marker ("" inside headings)."""
    nodes = _scan(text, links)
    _match_emphasis(nodes, strong)
    return "".join(map(_render, nodes))


def _render(node: _Node) -> str:
    if isinstance(node, str):
        return escape_mrkdwn(node)
    if isinstance(node, _Raw):
        return node.text
    return node.render()


def _scan(text: str, links: bool) -> list[_Node]:
    """Split a line into plain text, finished pieces (code, links, URLs), and emphasis runs."""
    special = _SPECIAL_RE if links else _SPECIAL_IN_LINK_RE
    nodes: list[_Node] = []
    unclosed_code: set[int] = set()
    pos = 0
    while pos < len(text):
        found = special.search(text, pos)
        if found is None:
            nodes.append(text[pos:])
            break
        if found.start() > pos:
            nodes.append(text[pos : found.start()])
        pos = found.start()
        char = text[pos]
        if char == "\\":
            if pos + 1 < len(text) and text[pos + 1] in _ASCII_PUNCTUATION:
                nodes.append(_Raw(escape_mrkdwn(text[pos + 1])))
                pos += 2
            else:
                nodes.append(char)
                pos += 1
        elif char == "`":
            pos = _scan_code(text, pos, nodes, unclosed_code)
        elif char in "*_~":
            run_end = _run_end(text, pos)
            nodes.append(_delimiter(text, pos, run_end))
            pos = run_end
        else:
            pos = _scan_markup(text, pos, nodes)
    return nodes


def _run_end(text: str, pos: int) -> int:
    """Where the run of the character at `pos` ends."""
    end = pos + 1
    while end < len(text) and text[end] == text[pos]:
        end += 1
    return end


def _scan_code(text: str, pos: int, nodes: list[_Node], unclosed: set[int]) -> int:
    """A code span, kept as written; returns the position after it."""
    run_end = _run_end(text, pos)
    run = text[pos:run_end]
    if len(run) not in unclosed:
        closing = re.compile(rf"(?<!`){run}(?!`)").search(text, run_end)
        if closing:
            nodes.append(_Raw(run + escape_mrkdwn(text[run_end : closing.start()]) + run))
            return closing.end()
        unclosed.add(len(run))
    nodes.append(run)
    return run_end


def _scan_markup(text: str, pos: int, nodes: list[_Node]) -> int:
    """Links, images, autolinks, entities and bare URLs; returns the position after them."""
    char = text[pos]
    if char == "!":
        image = _LINK_RE.match(text, pos + 1)
        if image:
            nodes.append(_Raw(_link(image)))
            return image.end()
    elif char == "[":
        link = _LINK_RE.match(text, pos)
        if link:
            nodes.append(_Raw(_link(link)))
            return link.end()
    elif char == "<":
        auto = _AUTOLINK_RE.match(text, pos)
        if auto:
            nodes.append(_Raw(slack_link(auto.group(1))))
            return auto.end()
        email = _EMAIL_AUTOLINK_RE.match(text, pos)
        if email:
            address = email.group(1)
            nodes.append(_Raw(slack_link(f"mailto:{address}", address)))
            return email.end()
    elif char == "&":
        entity = _ENTITY_RE.match(text, pos)
        if entity:
            decoded = html.unescape(entity.group())
            if decoded != entity.group():
                nodes.append(_Raw(escape_mrkdwn(decoded)))
                return entity.end()
    elif char == "h":
        url = _bare_url(text, pos)
        if url:
            nodes.append(_Raw(escape_mrkdwn(url)))
            return pos + len(url)
    nodes.append(char)
    return pos + 1


def _bare_url(text: str, pos: int) -> str:
    """The URL starting at `pos`, without trailing punctuation or an unbalanced `)`."""
    match = _BARE_URL_RE.match(text, pos)
    url = match.group() if match else ""
    while True:
        trimmed = _URL_TRAILING_RE.sub("", url)
        if trimmed.endswith(")") and trimmed.count(")") > trimmed.count("("):
            trimmed = trimmed[:-1]
        if trimmed == url:
            return url
        url = trimmed


def _link(match: re.Match[str]) -> str:
    """`[label](url)` as `<url|label>`; links without a scheme become `label (url)`."""
    label = _inline(match.group("label"), links=False).strip()
    url = match.group("url")
    if url.startswith("<"):
        url = url[1:-1]
    url = _BACKSLASH_RE.sub(r"\1", url).strip()
    if _SCHEME_RE.match(url):
        return slack_link(url, label)
    if not url or url.startswith("#"):
        return label
    return f"{label} ({escape_mrkdwn(url)})" if label else escape_mrkdwn(url)


def _kind(char: str | None) -> str:
    if char is None or char.isspace():
        return "space"
    if char in _ASCII_PUNCTUATION or unicodedata.category(char)[0] in "PS":
        return "punct"
    return "other"


def _delimiter(text: str, start: int, end: int) -> _Node:
    """Classify a delimiter run by CommonMark's flanking rules."""
    char = text[start]
    count = end - start
    if char == "~" and count > 2:
        return text[start:end]
    before = _kind(text[start - 1] if start > 0 else None)
    after = _kind(text[end] if end < len(text) else None)
    left = after != "space" and (after != "punct" or before != "other")
    right = before != "space" and (before != "punct" or after != "other")
    if char == "_":  # no emphasis inside words: snake_case stays as it is
        can_open = left and (not right or before == "punct")
        can_close = right and (not left or after == "punct")
        return _Delim(char, count, can_open, can_close)
    return _Delim(char, count, left, right)


def _match_emphasis(nodes: list[_Node], strong: str) -> None:
    """Pair opening and closing delimiter runs, innermost first (a simplified CommonMark)."""
    openers: dict[str, list[_Delim]] = {"*": [], "_": [], "~": []}
    for index, node in enumerate(nodes):
        if not isinstance(node, _Delim):
            continue
        node.index = index
        stack = openers[node.char]
        while node.can_close and node.count and stack:
            opener = stack[-1]
            if node.char == "~":
                if opener.count != node.count:
                    break
                used, marker = node.count, "~"
            elif opener.count >= 2 and node.count >= 2:
                used, marker = 2, strong
            else:
                used, marker = 1, "_"
            opener.count -= used
            node.count -= used
            opener.opens.append(marker)
            node.closes.append(marker)
            if not opener.count:
                stack.pop()
            for other in openers.values():
                while other and other[-1].index > opener.index:
                    other.pop()
        if node.can_open and node.count:
            stack.append(node)
