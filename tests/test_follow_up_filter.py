"""Which replies in a run's thread go to the agent (pure logic; the end-to-end tests are in
tests/test_follow_up_noise.py)."""

from __future__ import annotations

import pytest

from handlers.follow_up_filter import Verdict, judge_reply

BOT = "UBOT"


@pytest.mark.parametrize(
    ("text", "muted", "mode", "verdict"),
    [
        ("also add tests", False, "all", Verdict.SEND),
        ("thanks!", False, "mention", Verdict.IGNORE),
        ("<@UBOT> also add tests", False, "mention", Verdict.SEND),
        ("<@U0BOB> can you review this?", False, "all", Verdict.IGNORE),
        ("<!subteam^S0TEAM|@backend> FYI", False, "all", Verdict.IGNORE),
        ("<@UBOT> ask <@U0BOB|bob> about the schema", False, "all", Verdict.SEND),
        ("also add tests", True, "all", Verdict.IGNORE),
        ("<@UBOT> also add tests", True, "all", Verdict.MUTED_MENTION),
        ("<@UBOT> mute", False, "all", Verdict.MUTE),
        ("Mute.", False, "mention", Verdict.MUTE),
        ("unmute", True, "all", Verdict.UNMUTE),
        ("<@U0BOB> mute your notifications", False, "all", Verdict.IGNORE),
        ("<@UBOT> stop", False, "all", Verdict.STOP),
        ("stop", False, "all", Verdict.SEND),  # a plain "stop" is the agent's to read
        ("mute the alarms when tests pass", False, "all", Verdict.SEND),
    ],
)
def test_judge_reply(text: str, muted: bool, mode: str, verdict: Verdict) -> None:
    assert judge_reply(text, BOT, muted=muted, mode=mode) is verdict
