"""People's names for thread context: users.info asked once an hour per member through the Slack Web API
double, the raw id (and no exception) whenever Slack cannot say."""

from __future__ import annotations

import logging
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient

from bot.slack_calls import make_web_client
from bot.slack_limits import SlackLimits
from bot.slack_out import SlackOut
from bot.user_names import MISS_TTL_SECONDS, NAME_TTL_SECONDS, LookupDeferred, UserNames, display_name
from tests.fakeclock import FakeClock
from tests.servers.slack_fixtures import ALICE, BOB
from tests.servers.slack_server import SlackServer


def names_for(slack_server: SlackServer, clock: FakeClock, *, max_names: int = 100) -> UserNames:
    """A UserNames asking the Slack double."""
    slack = SlackOut(make_web_client(slack_server.bot_token, slack_server.api_url))
    return UserNames(slack, clock, max_names=max_names)


def test_the_display_name_comes_first_then_the_real_name_then_the_username() -> None:
    assert display_name({"name": "cd", "real_name": "Carol D", "profile": {"display_name": "Cap"}}) == "Cap"
    blank = {"display_name": " ", "real_name": "C D"}
    assert display_name({"name": "cd", "real_name": "Carol", "profile": blank}) == "C D"
    assert display_name({"name": "cd", "real_name": "Carol D", "profile": {"display_name": ""}}) == "Carol D"
    assert display_name({"name": "cd"}) == "cd"
    assert display_name({}) is None


def test_names_come_from_users_info_and_are_kept_for_an_hour(slack_server: SlackServer) -> None:
    slack_server.add_user("U0CAROL", "carol", real_name="Carol Danvers", display_name="Captain")
    clock = FakeClock()
    names = names_for(slack_server, clock)
    found = [names.name(user_id) for user_id in (ALICE, BOB, "U0CAROL", ALICE, BOB)]
    assert found == ["alice", "bob", "Captain", "alice", "bob"]
    assert slack_server.count("users.info") == 3
    clock.advance(NAME_TTL_SECONDS - 1)
    assert names.name(ALICE) == "alice" and slack_server.count("users.info") == 3
    slack_server.add_user(ALICE, "alice", display_name="Alice A.")  # renamed in Slack
    clock.advance(2)
    assert names.name(ALICE) == "Alice A." and slack_server.count("users.info") == 4


def test_a_failed_lookup_gives_the_id_and_is_tried_again_a_minute_later(
    slack_server: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    names = names_for(slack_server, clock)
    slack_server.fail_next("users.info", "fatal_error")
    with caplog.at_level(logging.WARNING, logger="codegen_slack.user_names"):
        assert names.name(BOB) == BOB and names.name("U0NOBODY") == "U0NOBODY"
    assert "fatal_error" in caplog.text and "user_not_found" in caplog.text
    assert slack_server.bot_token not in caplog.text
    assert names.name(BOB) == BOB and slack_server.count("users.info") == 2  # not asked again at once
    clock.advance(MISS_TTL_SECONDS + 1)
    assert names.name(BOB) == "bob" and names.name("U0NOBODY") == "U0NOBODY"
    assert slack_server.count("users.info") == 4


def test_while_slack_does_not_answer_ids_stand_for_everyone(slack_server: SlackServer) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        nobody_listens = f"http://127.0.0.1:{free.getsockname()[1]}/api/"
    slack = SlackOut(WebClient(base_url=nobody_listens, timeout=1))
    slack.client.retry_handlers = []
    clock = FakeClock()
    names = UserNames(slack, clock)
    assert names.name(ALICE) == ALICE
    slack.client.base_url, slack.client.token = slack_server.api_url, slack_server.bot_token  # Slack is back
    assert names.name(BOB) == BOB and slack_server.count("users.info") == 0  # not asked for a while
    clock.advance(MISS_TTL_SECONDS + 1)
    assert names.name(BOB) == "bob" and names.name(ALICE) == "alice"


def test_at_most_max_names_are_kept_oldest_dropped_first(slack_server: SlackServer) -> None:
    for n in range(4):
        slack_server.add_user(f"U0P{n}", f"person{n}")
    names = names_for(slack_server, FakeClock(), max_names=3)
    assert [names.name(f"U0P{n}") for n in range(4)] == [f"person{n}" for n in range(4)]
    names.name("U0P3")
    assert slack_server.count("users.info") == 4  # still kept
    names.name("U0P0")  # dropped: asked again
    assert slack_server.count("users.info") == 5


def test_worker_threads_can_share_one_instance(slack_server: SlackServer) -> None:
    names = names_for(slack_server, FakeClock())
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(names.name, [ALICE, BOB] * 50))
    assert found == ["alice", "bob"] * 50
    asked = slack_server.count("users.info")
    assert names.name(ALICE) == "alice" and slack_server.count("users.info") == asked


def test_a_lookup_that_must_answer_soon_does_not_wait_for_a_full_limit(slack_server: SlackServer) -> None:
    clock = FakeClock()
    slack = SlackOut(make_web_client(slack_server.bot_token, slack_server.api_url), limits=SlackLimits(clock))
    limiter = slack.limits.limiter("users.info")
    assert limiter is not None
    while limiter.try_acquire():  # a burst of new people used up the minute's users.info calls
        pass
    names = UserNames(slack, clock)
    with pytest.raises(LookupDeferred):  # said at once, not after most of a minute
        names.member(BOB, max_wait=1.0)
    assert slack_server.count("users.info") == 0
    clock.advance(61)
    assert names.member(BOB, max_wait=1.0) is not None  # the window passed: Slack is asked
