"""What agents write reaches people intact: results posted as Slack `markdown` and `table` blocks.

The issue's link examples, the golden corpus of realistic results (tests/golden/: every word and
every URL come through, and every message is accepted by the Slack test server, which enforces the
markdown and table blocks' limits), and a property test over generated Markdown.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient

from bot.render.markdown import RULE, markdown_blocks
from bot.render.results import result_messages
from storage.records import RunRecord
from tests.render_checks import PARSER, input_urls, posted_links, posted_words, words
from tests.servers.slack_server import SlackServer

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.md"))
RUN = RunRecord(run_id=7, channel="C0GENERAL", thread_ts="1.1", requester="U0ALICE", prompt="p",
                status="COMPLETE", web_url="https://codegen.com/agent/trace/7", created_at=0.0)  # fmt: skip


def links_with_labels(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(url, label) of every link in the posted markdown blocks, as Slack's Markdown renders them."""
    found = []
    for block in blocks:
        for token in PARSER.parse(block.get("text", "")) if block["type"] == "markdown" else []:
            children = token.children or []
            for index, child in enumerate(children):
                if child.type == "link_open":
                    found.append((str(child.attrs["href"]), children[index + 1].content))
    return found


def test_the_agents_slack_style_links_stay_working_links_with_their_labels() -> None:
    blocks = markdown_blocks(
        "See <https://example.com/doc|the design document> for details.\n\n"
        "Dashboard is <https://example.com/dash|here>."
    )
    assert links_with_labels(blocks) == [
        ("https://example.com/doc", "the design document"),
        ("https://example.com/dash", "here"),
    ]


def test_bare_urls_with_parentheses_and_links_inside_emphasis_work() -> None:
    blocks = markdown_blocks(
        "Read https://en.wikipedia.org/wiki/Function_(mathematics). Also (https://example.com/x), "
        "**see [the runbook](https://example.com/runbook)**."
    )
    assert [url for url, _ in links_with_labels(blocks)] == [
        "https://en.wikipedia.org/wiki/Function_(mathematics)",
        "https://example.com/x",
        "https://example.com/runbook",
    ]


def test_an_agent_cannot_ping_with_slacks_mention_markup() -> None:
    [block] = markdown_blocks("Done, <!channel>: ask <@U0ALICE> in <#C0DEPLOY|deploys>.")
    assert "<!" not in block["text"].replace("\\<", "")
    assert PARSER.render(block["text"]) == (  # shown as written
        "<p>Done, &lt;!channel&gt;: ask &lt;@U0ALICE&gt; in &lt;#C0DEPLOY|deploys&gt;.</p>\n"
    )


def test_the_notification_text_shows_mention_markup_as_written_without_escapes() -> None:
    run = RunRecord(run_id=7, channel="C0GENERAL", thread_ts="1.1", requester="U0ALICE", prompt="p",
                    status="COMPLETE", result="Done, <!channel>: a < b & c")  # fmt: skip
    (message,) = result_messages(run)
    assert message.text.endswith("Done, &lt;!channel&gt;: a &lt; b &amp; c")  # no ping, no backslash


def test_what_slacks_markdown_block_does_not_render_is_bridged() -> None:
    [block] = markdown_blocks("- [ ] open\n- [x] done\n\n---\n\n```python\nprint('<hi>')\n```")
    assert block["text"] == f"- ☐ open\n- ☑ done\n\n{RULE}\n\n```\nprint('<hi>')\n```"


def test_a_table_becomes_a_table_block_with_links_and_emphasis_in_its_cells() -> None:
    link = "[dash](https://grafana.example.com/d?a=1&b=2)"
    text = f"Results:\n\n| Bench | Link |\n|---|---|\n| **fast** | {link} |\n\nDone."
    intro, table, outro = markdown_blocks(text)
    assert (intro["text"], outro["text"]) == ("Results:", "Done.")
    _, row = table["rows"]
    assert row[0]["elements"][0]["elements"] == [{"type": "text", "text": "fast", "style": {"bold": True}}]
    assert row[1]["elements"][0]["elements"] == [
        {"type": "link", "url": "https://grafana.example.com/d?a=1&b=2", "text": "dash"}
    ]


def test_tables_past_slacks_size_are_split_or_kept_as_text() -> None:
    long_table = "| n |\n|---|\n" + "".join(f"| row {i} |\n" for i in range(250))
    tables = markdown_blocks(long_table)
    assert [len(t["rows"]) for t in tables] == [100, 100, 53]  # the header leads each
    wide = "| " + " | ".join(f"c{i}" for i in range(25)) + " |\n|" + "---|" * 25 + "\n"
    [block] = markdown_blocks(wide)
    assert block["type"] == "markdown" and block["text"].startswith("```\n| c0 | c1")


@pytest.mark.parametrize("path", GOLDEN, ids=[path.stem for path in GOLDEN])
def test_golden_results_keep_every_word_and_link(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    blocks = markdown_blocks(text)
    assert words(text) <= words(posted_words(blocks))
    assert input_urls(text) <= posted_links(blocks)


def test_the_golden_corpus_is_large_and_varied() -> None:
    names = {path.stem.split("_")[0] for path in GOLDEN}
    assert len(GOLDEN) >= 50 and {"pr", "tests", "table", "log", "mixed", "links"} <= names


def test_slack_accepts_every_message_of_every_golden_result(slack_server: SlackServer) -> None:
    slack_server.rate_limits_enabled = False
    client = WebClient(token=slack_server.bot_token, base_url=slack_server.api_url)
    for path in GOLDEN:
        run = dataclasses.replace(RUN, result=path.read_text(encoding="utf-8"))
        for message in result_messages(run):
            client.chat_postMessage(channel="C0GENERAL", text=message.text, blocks=message.blocks,
                                    attachments=message.attachments, metadata=message.metadata)  # fmt: skip


WORD = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=2, max_size=8),
    st.sampled_from(["重要", "変更です", "שלום", "مرحبا", "Größe", "naïve", "测试", "😀ok"]),
)
URL = st.builds(
    lambda host, path, tail: f"https://{host}.example.com/{path}{tail}",
    st.text(alphabet="abcxyz", min_size=1, max_size=6),
    st.text(alphabet="abcxyz019-_/", max_size=10),
    st.sampled_from(["", "?q=1&r=2", "_(note)", "#frag", "/x.html"]),
)
INLINE = st.one_of(
    WORD,
    WORD.map(lambda w: f"**{w}**"),
    WORD.map(lambda w: f"_{w}_"),
    WORD.map(lambda w: f"~~{w}~~"),
    WORD.map(lambda w: f"`{w}`"),
    st.tuples(WORD, URL).map(lambda p: f"[{p[0]}]({p[1]})"),
    st.tuples(WORD, URL).map(lambda p: f"**[{p[0]}]({p[1]})**"),
    st.tuples(WORD, URL).map(lambda p: f"<{p[1]}|{p[0]}>"),
    URL.map(lambda u: f"<{u}>"),
    st.tuples(URL, st.sampled_from(["", ".", ",", ")"])).map(lambda p: f"{p[0]}{p[1]}"),
    URL.map(lambda u: f"({u})"),
    st.sampled_from([":tada:", "&amp;", "&copy;", "a < b", "x & y"]),
)
LINE = st.lists(INLINE, min_size=1, max_size=6).map(" ".join)
BLOCK = st.one_of(
    LINE,
    LINE.map(lambda line: f"# {line}"),
    LINE.map(lambda line: f"> {line}"),
    st.lists(LINE, min_size=1, max_size=3).map(lambda items: "\n".join(f"- {i}" for i in items)),
    st.lists(LINE, min_size=1, max_size=3).map(lambda items: "\n".join(f"1. {i}" for i in items)),
    LINE.map(lambda line: f"- [ ] {line}\n- [x] {line}"),
    st.lists(WORD, min_size=1, max_size=4).map(lambda ws: "```python\n" + "\n".join(ws) + "\n```"),
    st.lists(st.tuples(INLINE, INLINE), min_size=1, max_size=4).map(
        lambda rows: "| a | b |\n|---|---|\n" + "\n".join(f"| {x} | {y} |" for x, y in rows)
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(BLOCK, min_size=1, max_size=8).map("\n\n".join))
def test_every_word_and_every_url_of_generated_markdown_comes_through(markdown: str) -> None:
    blocks = markdown_blocks(markdown)
    assert words(markdown) <= words(posted_words(blocks))
    assert input_urls(markdown) <= posted_links(blocks)
