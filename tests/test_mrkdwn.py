"""Markdown written by agents, as Slack shows it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.limits import split_text, truncate
from bot.render.mrkdwn import escape_mrkdwn, slack_link, to_mrkdwn

# Pieces that exercise every branch of the converter when strung together at random.
_MARKDOWN_PIECES = [
    "*", "**", "_", "__", "~", "~~", "`", "```", "~~~", "[", "]", "(", ")", "![", "<", ">", "&",
    "&amp;", "&lt;", "&copy;", "&#38;", "\\", "#", "# ", "- ", "+ ", "* ", "1. ", "> ", "|", "|-|",
    "---", "\n", "\n\n", " ", "  ", "\t", "word", "snake_case", "https://x.io/a_b?c=1&d=2",
    "<https://y.io>", "<me@x.io>", "[t](https://z.io)", "[r](rel/path)", "é", "🚀", "\r\n", "\x00",
]
markdownish = st.lists(st.sampled_from(_MARKDOWN_PIECES), max_size=60).map("".join)
any_text = st.one_of(st.text(max_size=300), markdownish)


def _unescape(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m[1]], text)


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("***both***", "_*both*_"),
        ("~~gone~~ and ~gone~", "~gone~ and ~gone~"),
        ("see [the docs](https://x.io/a?b=1&c=2)", "see <https://x.io/a?b=1&amp;c=2|the docs>"),
        ("[**bold** label](https://x.io)", "<https://x.io|*bold* label>"),
        ("![diagram](https://x.io/d.png)", "<https://x.io/d.png|diagram>"),
        ("[src/app.py](src/app.py)", "src/app.py (src/app.py)"),
        ("<https://x.io> and <me@x.io>", "<https://x.io> and <mailto:me@x.io|me@x.io>"),
        ("https://x.io/**a**_b_c ok.", "https://x.io/**a**_b_c ok."),
        ("# Summary", "*Summary*"),
        ("### Changes **made** ###", "*Changes made*"),
        ("#hashtag", "#hashtag"),
        ("- one\n  * two\n    + three", "• one\n  • two\n    • three"),
        ("- [ ] todo\n- [x] done", "• ☐ todo\n• ☑ done"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("> quoted **text**\n> > nested", "> quoted *text*\n> nested"),
        ("---", "──────────"),
        ("snake_case_name and 2 * 3 * 4", "snake_case_name and 2 * 3 * 4"),
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
        ("&amp; &lt; &copy;", "&amp; &lt; ©"),
        ("\\*not italic\\*", "*not italic*"),
        ("`code **x** <y>`", "`code **x** &lt;y&gt;`"),
        ("<!channel> <@U123>", "&lt;!channel&gt; &lt;@U123&gt;"),
    ],
)
def test_converts_github_markdown_to_slack_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_fenced_code_is_kept_and_the_language_tag_dropped() -> None:
    markdown = "Run:\n```python\nif a < b and **kw:\n    print('# not a heading')\n```\nDone."
    assert to_mrkdwn(markdown) == (
        "Run:\n```\nif a &lt; b and **kw:\n    print('# not a heading')\n```\nDone."
    )


def test_code_fence_indented_in_a_list_loses_its_indentation() -> None:
    assert to_mrkdwn("- step\n  ```sh\n  make\n    indented\n  ```") == (
        "• step\n```\nmake\n  indented\n```"
    )


def test_unclosed_fence_is_closed() -> None:
    assert to_mrkdwn("```\nprint(1)") == "```\nprint(1)\n```"


def test_tables_go_in_a_code_block() -> None:
    markdown = "| a | b |\n|---|:-:|\n| 1 & 2 | x |\nafter"
    assert to_mrkdwn(markdown) == "```\n| a | b |\n|---|:-:|\n| 1 &amp; 2 | x |\n```\nafter"


def test_escape_mrkdwn_escapes_slack_control_characters() -> None:
    assert escape_mrkdwn("<@U1> & <!here> > *x*") == "&lt;@U1&gt; &amp; &lt;!here&gt; &gt; *x*"


def test_slack_link_encodes_characters_that_would_end_the_link() -> None:
    assert slack_link("https://x.io/a b?c=1&d=<2>|", "label") == (
        "<https://x.io/a%20b?c=1&amp;d=%3C2%3E%7C|label>"
    )
    assert slack_link("https://x.io") == "<https://x.io>"


@given(any_text)
def test_never_raises_and_output_is_bounded(markdown: str) -> None:
    assert len(to_mrkdwn(markdown)) <= 5 * len(markdown) + 4


@given(any_text)
def test_only_links_and_quotes_use_slack_control_characters(markdown: str) -> None:
    out = to_mrkdwn(markdown)
    assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", out, re.DOTALL)
    without_links = re.sub(r"<[^<>\n]*>", "", out)
    without_quotes = re.sub(r"(?m)^>(?= |$)", "", without_links)
    assert "<" not in without_quotes
    assert ">" not in without_quotes


@given(st.text(alphabet="ab &<>\n", max_size=100))
def test_escaping_is_not_applied_twice(text: str) -> None:
    once = to_mrkdwn(text)
    assert to_mrkdwn(once) == once


code_line = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r`~"),
    max_size=40,
)


@given(st.lists(code_line, min_size=1, max_size=10), st.sampled_from(["", "python", "diff"]))
def test_code_block_contents_survive_byte_for_byte(lines: list[str], language: str) -> None:
    code = "\n".join(lines)
    out = to_mrkdwn(f"Some **text**:\n```{language}\n{code}\n```\nmore")
    block = re.search(r"```\n(.*)\n```", out, re.DOTALL)
    assert block is not None
    assert _unescape(block.group(1)) == code


@pytest.mark.parametrize("piece", ["[", "*a", "`", "_x", "[a](", "[a](b ", "<", "&#", "https://x"])
def test_long_pathological_lines_convert_quickly(piece: str) -> None:
    markdown = piece * 20_000
    assert len(to_mrkdwn(markdown)) <= 5 * len(markdown) + 4


# Splitting and shortening mrkdwn to Slack's limits (bot/render/limits.py).


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    assert split_text("first paragraph\n\nsecond one", 20) == ["first paragraph", "second one"]
    assert split_text("line one\nline two\nline three", 20) == ["line one\nline two", "line three"]
    assert split_text("many small words here", 16) == ["many small words", "here"]
    assert split_text("short", 16) == ["short"]
    assert split_text(" \n\n ", 16) == []


def test_split_hard_splits_a_huge_word() -> None:
    chunks = split_text("x" * 10_000, 3_000)
    assert all(len(chunk) <= 3_000 for chunk in chunks)
    assert "".join(chunks) == "x" * 10_000


def test_split_closes_and_reopens_code_fences() -> None:
    code = "\n".join(f"line {i}" for i in range(12))
    chunks = split_text(f"Intro text.\n```\n{code}\n```\nOutro.", 40)
    assert chunks[0].startswith("Intro text.\n```\nline 0")
    assert all(chunk.count("```") % 2 == 0 for chunk in chunks)
    assert all(chunk.startswith("```\nline") for chunk in chunks[1:-1])
    assert chunks[-1].endswith("Outro.")
    assert "```\n```" not in "".join(chunks)


def test_split_does_not_break_links_or_entities() -> None:
    link = slack_link("https://e.io/p", "a label")
    assert split_text(f"see {link} ok", 26) == ["see", link, "ok"]
    assert split_text("a" * 20 + "&amp;" + "b" * 20, 22) == ["a" * 20, "&amp;" + "b" * 17, "bbb"]


def test_split_rejects_a_limit_too_small_for_fences() -> None:
    with pytest.raises(ValueError, match="at least"):
        split_text("text", 5)


chunkable = st.lists(
    st.sampled_from(["```", "\n", "\n\n", " ", "word", "x" * 30, "&amp;", "<https://e.io|a b>", "é"]),
    max_size=80,
).map("".join)


@given(st.one_of(chunkable, st.text(max_size=300)), st.integers(min_value=16, max_value=120))
def test_split_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(0 < len(chunk) <= limit and chunk.strip() for chunk in chunks)
    assert all(chunk.count("```") % 2 == 0 for chunk in chunks)

    def visible(s: str) -> str:
        return re.sub(r"\s|`", "", s)

    assert visible("".join(chunks)) == visible(text)


def test_truncate() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("a long sentence here", 10) == "a long se…"
    assert truncate("see " + slack_link("https://e.io/page", "label"), 20) == "see…"
    assert truncate("```\ncode code code code\n```", 20) == "```\ncode code c\n```…"
    assert truncate("abc", 1) == "…"


@given(st.one_of(chunkable, st.text(max_size=200)), st.integers(min_value=1, max_value=100))
def test_truncate_never_exceeds_the_limit(text: str, limit: int) -> None:
    short = truncate(text, limit)
    assert len(short) <= limit
    assert short == text or short.endswith("…")
