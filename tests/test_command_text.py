"""What users type after /codegen, or to the bot, and the command it becomes."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.command_text import (
    USAGE,
    HelpCommand,
    ListCommand,
    PRCommand,
    RunCommand,
    StatusCommand,
    StopCommand,
    UsageError,
    parse_command,
    strip_bot_mention,
)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("help", HelpCommand()),
        ("  HELP \n", HelpCommand()),
        ("list", ListCommand()),
        ("status", StatusCommand(None)),
        ("status 123", StatusCommand(123)),
        ("Status #123", StatusCommand(123)),
        ("help me fix the login bug", RunCommand("help me fix the login bug")),
        ("list all TODOs in the repo", RunCommand("list all TODOs in the repo")),
        ("status of CI is red, fix it", RunCommand("status of CI is red, fix it")),
        ("stop", StopCommand(None)),
        ("stop #40007", StopCommand(40007)),
        ("pr 40005", PRCommand(40005)),
        ("status 9223372036854775807", StatusCommand(2**63 - 1)),  # the largest 64-bit id
        (
            "stop the deploy script from failing on Fridays",
            RunCommand("stop the deploy script from failing on Fridays"),
        ),
        ("pr descriptions should name the ticket", RunCommand("pr descriptions should name the ticket")),
        (
            "repo=acme/web fix the login bug model=claude-3.5",
            RunCommand("fix the login bug", repo="acme/web", model="claude-3.5"),
        ),
        ("fix\nthe bug\nREPO=a-b/c_d.e", RunCommand("fix\nthe bug", repo="a-b/c_d.e")),
        ("fix the repo=acme/web bug", RunCommand("fix the bug", repo="acme/web")),
        ("set the xrepo=a/b flag", RunCommand("set the xrepo=a/b flag")),
        ("a &lt;b&gt; &amp;&amp; c &amp;lt;", RunCommand("a <b> && c &lt;")),
        ("read <https://x.io/a?b=1&amp;c=2|x.io/a> now", RunCommand("read https://x.io/a?b=1&c=2 now")),
        ("read <https://x.io>", RunCommand("read https://x.io")),
        ("mail <mailto:a@b.io|a@b.io>", RunCommand("mail a@b.io")),
        ("ask <@U123> and <#C1|general> <!here>", RunCommand("ask <@U123> and #general @here")),
    ],
)
def test_parses_commands(text: str, command: object) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", USAGE),
        ("   ", USAGE),
        ("repo=acme/web model=x", USAGE),
        ("status abc", "Run ids are numbers"),
        ("stop abc", "Run ids are numbers, like /codegen stop 123 (not 'abc')."),
        ("pr abc", "Run ids are numbers, like /codegen pr 123 (not 'abc')."),
        ("stop 40007 now", "/codegen stop takes one run id"),
        ("stop #40007 now please", "/codegen stop takes one run id"),
        ("pr 40005 extra", "/codegen pr takes one run id"),
        ("status 123456789012345678901234567890", "There is no run #123456789012345678901234567890"),
        ("stop 9223372036854775808", "There is no run #9223372036854775808"),
        ("pr #123456789012345678901234567890", "There is no run"),
        ("fix repo=acme", "doesn't look like owner/name"),
        ("fix repo=a/b/c", "doesn't look like owner/name"),
        ("fix repo=a/b repo=c/d", "repo= is given twice"),
        ("fix model=a Model=b", "model= is given twice"),
        ("fix model=", "model= needs a value, like model=name"),
        ("fix agent=", "agent= needs a value, like agent=claude_code"),
    ],
)
def test_usage_errors_say_what_is_wrong(text: str, says: str) -> None:
    result = parse_command(text)
    assert isinstance(result, UsageError)
    assert says in result.message


def test_strip_bot_mention() -> None:
    assert strip_bot_mention("<@UBOT> fix the bug", "UBOT") == "fix the bug"
    assert strip_bot_mention("hey <@UBOT|codegen>  fix it", "UBOT") == "hey  fix it"
    assert strip_bot_mention("ask <@UOTHER> <@UBOT>", "UBOT") == "ask <@UOTHER>"
    assert strip_bot_mention("  just text ", "UBOT") == "just text"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


word = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]),
    min_size=1,
    max_size=12,
).filter(lambda w: "=" not in w)
separator = st.sampled_from([" ", "  ", "\n", "\t", " \n "])
repo = st.from_regex(r"[A-Za-z0-9_.-]{1,10}/[A-Za-z0-9_.-]{1,10}", fullmatch=True)
model = st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True)


def _is_keyword_command(words: list[str]) -> bool:
    first = words[0].lower()
    return (
        (len(words) == 1 and first in ("help", "list"))
        or (first in ("status", "pr", "stop") and len(words) <= 2)
        or (first in ("pr", "stop") and re.fullmatch(r"#?[0-9]+", words[1]) is not None)
    )


@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    assert parse_command(text) is not None
    assert isinstance(strip_bot_mention(text, "UBOT"), str)


@given(st.lists(word, min_size=1, max_size=8), st.lists(separator, min_size=8, max_size=8),
       st.none() | repo, st.none() | model)
def test_options_at_the_end_round_trip(
    words: list[str], gaps: list[str], repo_: str | None, model_: str | None
) -> None:
    assume(not _is_keyword_command(words))
    prompt = "".join(w + g for w, g in zip(words, gaps, strict=False)).strip()
    options = [f"repo={repo_}"] * bool(repo_) + [f"model={model_}"] * bool(model_)
    text = " ".join([_slack_escape(prompt), *options])
    assert parse_command(text) == RunCommand(prompt, repo_, model_)


@given(st.lists(word, min_size=1, max_size=8), st.data())
def test_options_anywhere_leave_the_prompt_words_in_order(
    words: list[str], data: st.DataObject
) -> None:
    assume(not _is_keyword_command(words))
    repo_ = data.draw(repo)
    model_ = data.draw(model)
    tokens = list(words)
    tokens.insert(data.draw(st.integers(0, len(tokens))), f"repo={repo_}")
    tokens.insert(data.draw(st.integers(0, len(tokens))), f"model={model_}")
    result = parse_command(" ".join(_slack_escape(t) for t in tokens))
    assert isinstance(result, RunCommand)
    assert (result.prompt.split(), result.repo, result.model) == (words, repo_, model_)
