"""Slack mrkdwn for the bot's own texts: escaping, links, and splitting or shortening to Slack's limits."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.limits import split_text, truncate
from bot.render.mrkdwn import escape_mrkdwn, slack_link


def test_escape_mrkdwn_escapes_slack_control_characters() -> None:
    assert escape_mrkdwn("<@U1> & <!here> > *x*") == "&lt;@U1&gt; &amp; &lt;!here&gt; &gt; *x*"


def test_slack_link_encodes_characters_that_would_end_the_link() -> None:
    assert slack_link("https://x.io/a b?c=1&d=<2>|", "label") == (
        "<https://x.io/a%20b?c=1&amp;d=%3C2%3E%7C|label>"
    )
    assert slack_link("https://x.io") == "<https://x.io>"


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
