"""The pure parts of watch rules and schedules: parsing the commands, what a rule matches, how a
repeated alert is recognised, the prompt it makes, and cron in a time zone across daylight saving."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.command_text import RunCommand, UsageError
from bot.schedules import BadCron, next_fire
from bot.trigger_commands import ScheduleCommand, WatchCommand, parse_trigger_text
from bot.watch_rules import BadPattern, compile_pattern, fill_template, fingerprint, from_source, watched_text


def test_watch_and_schedule_commands_parse_and_other_prompts_stay_prompts() -> None:
    assert parse_trigger_text('watch add "build failed" from=B01CI repo=acme/web prompt=Fix {text}') == (
        WatchCommand("add", pattern="build failed", source="B01CI", repo="acme/web", template="Fix {text}")
    )
    assert parse_trigger_text("watch add a&amp;b") == WatchCommand("add", pattern="a&b")  # Slack's encoding
    assert parse_trigger_text("watch remove #2") == WatchCommand("remove", 2)
    assert parse_trigger_text('schedule add "0 9 * * 1-5" triage repo=acme/web') == ScheduleCommand(
        "add", cron="0 9 * * 1-5", run=RunCommand("triage", repo="acme/web")
    )
    assert parse_trigger_text("schedule resume 4") == ScheduleCommand("resume", 4)
    assert parse_trigger_text("watch out for null pointers in the parser") is None
    assert parse_trigger_text("schedule a meeting summary") is None
    assert isinstance(parse_trigger_text("watch add x repo=nope"), UsageError)
    assert isinstance(parse_trigger_text("watch add x colour=red"), UsageError)
    assert "closing quote is missing" in str(parse_trigger_text('watch add "unterminated'))


def test_bad_patterns_are_refused_with_the_reason() -> None:
    with pytest.raises(BadPattern, match="missing \\]"):
        compile_pattern("[abc")
    with pytest.raises(BadPattern, match="keep it under 300"):
        compile_pattern("a" * 301)
    assert compile_pattern("deploy.*(failed|error)").search("DEPLOY of api FAILED")
    # RE2 never backtracks: a pattern that takes Python's re exponential time answers at once
    assert compile_pattern("(a+)+$").search("a" * 50_000 + "!") is None


def test_a_message_is_matched_on_its_text_attachments_and_blocks() -> None:
    event = {
        "text": "Deploy &lt;api&gt;",
        "attachments": [{"title": "Job <https://ci.example/1|#1>", "text": "exit 1", "fallback": "ignored",
                         "fields": [{"title": "Branch", "value": "main"}]}, {"fallback": "only fallback"}],
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Failed* step"}},
                   {"type": "context", "elements": [{"type": "mrkdwn", "text": "by ci"}]}],
    }  # fmt: skip
    assert watched_text(event) == (
        "Deploy <api>\nJob #1 (https://ci.example/1)\nexit 1\nBranch: main\nonly fallback\n"
        "*Failed* step\nby ci"
    )


def test_the_same_alert_with_other_numbers_ids_and_links_has_one_fingerprint() -> None:
    one = fingerprint("Build #4711 failed on main (a1b2c3d) at 09:14:02 https://ci.example/runs/4711")
    two = fingerprint("build #4712 FAILED on main (e4f5a6b)  at 10:01:55 https://ci.example/runs/4712")
    assert one == two
    assert fingerprint("Build #4711 failed on release") != one


def test_from_matches_bot_and_app_ids_and_names() -> None:
    event = {"bot_id": "B01", "app_id": "A01", "username": "GitHub Actions"}
    assert from_source(event, "B01") and from_source(event, "A01") and from_source(event, None)
    assert from_source({"bot_profile": {"name": "Sentry"}}, "sentry")
    assert not from_source(event, "B02")


def test_the_template_gets_text_and_link_and_stays_within_the_prompt_limit() -> None:
    assert fill_template("Fix: {text}", text="boom {permalink}", permalink="https://l", max_chars=1000) == (
        "Fix: boom {permalink}\nhttps://l"  # the message's own braces are left alone
    )
    long = fill_template(None, text="x" * 5000, permalink="https://l", max_chars=1000)
    assert len(long) <= 1000 and "more characters left out" in long


def test_cron_is_read_in_the_time_zone_across_daylight_saving() -> None:
    new_york = ZoneInfo("America/New_York")
    before = datetime(2027, 3, 13, 12, 0, tzinfo=new_york).timestamp()  # the day before clocks go forward
    after = next_fire("0 9 * * *", "America/New_York", before)
    assert datetime.fromtimestamp(after, new_york) == datetime(2027, 3, 14, 9, 0, tzinfo=new_york)
    assert next_fire("0 9 * * *", "America/New_York", after) - after == 24 * 3600
    with pytest.raises(BadCron, match="time zone"):
        next_fire("0 9 * * *", "Mars/Olympus", before)
