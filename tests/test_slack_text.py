"""Slack text reaches agents as people read it: bot.slack_text decodes every path exactly once.

The issue's examples end to end (thread context, a mention of a member in the request and in a
follow-up), the decoder's cases, and a property test over generated Slack-encoded text.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.prompts import CONTEXT_HEADER
from bot.slack_text import decode, escape, message_text, name_members
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB, BOT = "C0GENERAL", "U0ALICE", "U0BOB", "UBOT"
MEMBER = "U55JD9ND20F"
NAMES = {MEMBER: "Alice", BOB: "Bob", "W0ORGWIDE": "Org Person"}


def names(user_id: str) -> str:
    return NAMES.get(user_id, user_id)


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        (
            "`#include &lt;stdio.h&gt;` is missing &amp; the linker fails on a &lt; b",
            "`#include <stdio.h>` is missing & the linker fails on a < b",
        ),
        ("see <https://ci.example.com/42|build 42>", "see build 42 (https://ci.example.com/42)"),
        ("in <#C0123ABC|deploys>", "in #deploys"),
        ("in <#C0123ABC>", "in #C0123ABC"),
        ("<!here> <!channel> <!everyone> <!here|here>", "@here @channel @everyone @here"),
        ("ask <!subteam^S0ABC|@backend> and <!subteam^S0DEF>", "ask @backend and @S0DEF"),
        ("since <!date^1392734382^{date_short}^https://x.io|Feb 18, 2014>", "since Feb 18, 2014"),
        (f"ask <@{MEMBER}> which flaky test she meant", "ask @Alice which flaky test she meant"),
        ("ask <@U0NOBODY> or <@U0GONE|gone>", "ask @U0NOBODY or @gone"),
        ("ask <@W0ORGWIDE>", "ask @Org Person"),
        ("mail <mailto:ops@example.com|ops@example.com>", "mail ops@example.com"),
        ("mail <mailto:ops@example.com|the ops team>", "mail the ops team (ops@example.com)"),
        ("open <https://x.io/a?b=1&amp;c=2>", "open https://x.io/a?b=1&c=2"),
        ("open <https://x.io/a?b=1&amp;c=2|x.io/a>", "open https://x.io/a?b=1&c=2"),
        ("label <https://x.io|a &amp; b &lt;3>", "label a & b <3 (https://x.io)"),
        ("literally &amp;lt; and &amp;amp;", "literally &lt; and &amp;"),  # decoded once, not twice
        (":tada: שלום \u200b", ":tada: שלום \u200b"),
        ("a <not markup> b", "a <not markup> b"),
    ],
)
def test_decodes_slack_text_as_people_read_it(encoded: str, plain: str) -> None:
    assert decode(encoded, names) == plain


def test_members_wait_for_a_name_until_the_worker_names_them() -> None:
    kept = decode(f"ask <@{MEMBER}> &amp; <@U0GONE|gone>")
    assert kept == f"ask <@{MEMBER}> & <@U0GONE|gone>"
    assert name_members(kept, names) == "ask @Alice & @gone"


def test_a_rich_text_only_message_is_read_from_its_blocks() -> None:
    blocks = [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "deploy of "},
                        {"type": "link", "url": "https://ci.example.com/42", "text": "build 42"},
                        {"type": "text", "text": " failed, "},
                        {"type": "user", "user_id": MEMBER},
                        {"type": "text", "text": " a < b & c "},
                        {"type": "emoji", "name": "fire"},
                        {"type": "broadcast", "range": "here"},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "style": "ordered",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "first"}]},
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "second"}]},
                    ],
                },
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "x = <y>"}]},
                {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
            ],
        }
    ]
    assert message_text({"text": "", "blocks": blocks}, names) == (
        "deploy of build 42 (https://ci.example.com/42) failed, @Alice a < b & c :fire:@here\n"
        "1. first\n2. second\n```\nx = <y>\n```\n> quoted"
    )


# Plain text as people type it: letters, punctuation with Slack's three special characters, emoji,
# right-to-left script and zero-width characters; never something that itself looks like markup.
PLAIN = st.text(
    alphabet=st.sampled_from(
        [*list("abcXYZ 019.,:;!?-_*`~|/&<>\n"), "😀", "ש", "ل", "\u200b", "\u200f", "\ufeff"]
    ),
    max_size=30,
).filter(lambda s: not re.search(r"&(?:amp|lt|gt);|<[^<>\s]", s))
LABEL = PLAIN.map(lambda s: s.replace("\n", " "))  # a link's label is one line
WORD = st.text(alphabet="abcdefXYZ019 ._-", min_size=1, max_size=12).filter(str.strip)
URL = st.builds(lambda host, path: f"https://{host}.example.com/{path}?a=1&b=2", WORD, WORD).map(
    lambda url: url.replace(" ", "")
)
TOKENS = st.one_of(
    PLAIN.map(escape),
    st.sampled_from(
        [f"<@{MEMBER}>", "<@U0NOBODY>", "<@U0GONE|gone>", "<!here>", "<!channel>", "<!everyone>"]
    ),
    WORD.map(lambda name: f"<#C0123ABC|{name.strip()}>"),
    WORD.map(lambda team: f"<!subteam^S0ABC|@{escape(team.strip())}>"),
    WORD.map(lambda when: f"<!date^1392734382^{{date}}|{escape(when)}>"),
    URL.map(lambda url: f"<{escape(url)}>"),
    st.tuples(URL, LABEL).map(lambda link: f"<{escape(link[0])}|{escape(link[1])}>"),
    WORD.map(lambda who: f"<mailto:{who.replace(' ', '')}@example.com|{escape(who)}>"),
    st.sampled_from([":tada:", ":+1:", "&amp;", "&lt;", "&gt;"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=12).map(" ".join))
def test_decoding_is_total_idempotent_and_leaves_no_markup(encoded: str) -> None:
    plain = decode(encoded, names)
    assert decode(plain, names) == plain
    for leftover in ("<@", "<#", "<!", "&amp;"):
        assert leftover not in plain
    assert name_members(decode(encoded), names) == plain  # naming later gives the same text


@given(st.text(), st.lists(st.dictionaries(st.sampled_from(["type", "text", "url", "elements"]), st.text())))
def test_decoding_never_fails_whatever_slack_sends(text: str, elements: list[dict[str, str]]) -> None:
    assert isinstance(decode(text, names), str) and isinstance(decode(text), str)
    blocks = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}]
    assert isinstance(message_text({"text": "", "blocks": blocks}, names), str)


def test_thread_context_and_the_request_reach_the_agent_decoded(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    slack_server.add_user(MEMBER, "alice", display_name="Alice")
    slack_server.add_user(BOB, "bob", display_name="Bob")
    root = slack_server.post_as_user(
        GENERAL, BOB, "`#include &lt;stdio.h&gt;` is missing &amp; the linker fails on a &lt; b"
    )
    slack_server.post_as_user(
        GENERAL, BOB, "<https://ci.example.com/42|build 42> in <#C0123ABC|deploys> <!here>", thread_ts=root
    )
    text = f"<@{BOT}> ask <@{MEMBER}> which flaky test she meant"
    ts = slack_server.post_as_user(GENERAL, ALICE, text, thread_ts=root)
    event = {
        "type": "app_mention",
        "channel": GENERAL,
        "user": ALICE,
        "text": text,
        "ts": ts,
        "thread_ts": root,
    }
    assert app.event(event).status_code == 200
    run = wait_for(codegen_api.runs, what="the run")[0]
    prompt = codegen_api.run_inputs(run["id"])["prompt"]
    request, context = prompt.split(CONTEXT_HEADER)
    assert request.startswith("ask @Alice which flaky test she meant\n")
    assert context.splitlines()[1:] == [
        "> [@Bob]: `#include <stdio.h>` is missing & the linker fails on a < b",
        "> [@Bob]: build 42 (https://ci.example.com/42) in #deploys @here",
    ]


def test_a_follow_up_names_the_member_it_mentions(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    slack_server.add_user(MEMBER, "alice", display_name="Alice")
    text = f"<@{BOT}> fix the flaky test"
    ts = slack_server.post_as_user(GENERAL, ALICE, text)
    app.event({"type": "app_mention", "channel": GENERAL, "user": ALICE, "text": text, "ts": ts})
    run_id = wait_for(codegen_api.runs, what="the run")[0]["id"]
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id) and app.bot.store.get_run(run_id).finished, what="finish")
    # It mentions a member, so it goes to the agent only because it mentions the bot too (else: side talk).
    follow_up = f"<@{BOT}> ask <@{MEMBER}> &amp; check <https://ci.example.com/42|build 42>"
    reply_ts = slack_server.post_as_user(GENERAL, BOB, follow_up, thread_ts=ts)
    app.event({"type": "message", "channel": GENERAL, "channel_type": "channel", "user": BOB,
               "text": follow_up, "ts": reply_ts, "thread_ts": ts})  # fmt: skip
    resumes = wait_for(lambda: codegen_api.run_inputs(run_id)["resumes"], what="the follow-up")
    assert resumes[0]["prompt"] == "ask @Alice & check build 42 (https://ci.example.com/42)"
