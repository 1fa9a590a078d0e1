"""Announcements and status cards in fake time (the job runner drained in the test's thread): status
messages are edited only when something changed, or to update the elapsed time about once a minute,
and never more than Slack allows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.announce import announce_kind
from bot.cards import card_kinds
from bot.clock import Clock
from bot.jobs import Runner
from bot.render.messages import SlackMessage
from bot.slack_calls import make_web_client
from bot.slack_limits import SlackLimits
from bot.slack_out import SlackOut
from storage.job_kinds import REFRESH_SECONDS as ELAPSED_REFRESH_SECONDS
from storage.records import PullRequest, RunRecord
from storage.store import Store
from tests.fakeclock import FakeClock
from tests.servers.slack_fixtures import ALICE, start_slack_server
from tests.servers.slack_server import SlackServer

GENERAL = "C0GENERAL"


def notifier_jobs(store: Store, slack: SlackOut, clock: Clock) -> Runner:
    """A runner of the jobs that bring Slack up to date (announcements, cards), drained by the test."""
    return Runner(store, clock, [announce_kind(store, slack, clock), *card_kinds(store, slack, clock)])


@pytest.fixture
def parts(db_target: str, slack_server: SlackServer) -> Iterator[tuple[Store, Runner, FakeClock, str]]:
    clock = FakeClock()
    store = Store(db_target)
    slack = SlackOut(make_web_client(slack_server.bot_token, slack_server.api_url))
    status_ts = slack.post(GENERAL, SlackMessage(text="Starting…", blocks=[]))
    store.add_run(
        RunRecord(
            run_id=1,
            channel=GENERAL,
            thread_ts=status_ts,
            requester="U0ALICE",
            prompt="p",
            status_ts=status_ts,
            created_at=clock.now(),
            changed_at=clock.now(),
        )
    )
    yield store, notifier_jobs(store, slack, clock), clock, status_ts
    store.close()


def edits(slack: SlackServer) -> int:
    return slack.count("chat.update", ok=True)


def test_status_message_is_edited_once_per_change(parts, slack_server: SlackServer) -> None:
    store, notifier, clock, status_ts = parts
    notifier.drain()
    assert edits(slack_server) == 1
    for _ in range(5):
        clock.advance(5)
        store.record_check(1, now=clock.now(), next_check_at=clock.now() + 5, status="ACTIVE")
        notifier.drain()
    assert edits(slack_server) == 1  # nothing changed, nothing edited
    store.record_check(1, now=clock.now(), next_check_at=clock.now() + 5, status="RUNNING")
    notifier.drain()
    notifier.drain()
    assert edits(slack_server) == 2
    assert "RUNNING" in str(slack_server.message(GENERAL, status_ts)["blocks"])


def test_elapsed_time_is_refreshed_about_once_a_minute(parts, slack_server: SlackServer) -> None:
    _, notifier, clock, status_ts = parts
    notifier.drain()
    clock.advance(ELAPSED_REFRESH_SECONDS / 2)
    notifier.drain()
    assert edits(slack_server) == 1
    clock.advance(ELAPSED_REFRESH_SECONDS)
    notifier.drain()
    assert edits(slack_server) == 2
    assert "1m 30s" in str(slack_server.message(GENERAL, status_ts)["blocks"])


def test_a_pull_request_reaches_the_card_at_once(parts, slack_server: SlackServer) -> None:
    store, notifier, clock, status_ts = parts
    notifier.drain()
    clock.advance(5)
    pr = PullRequest(title="Fix login", url="https://github.com/acme/web/pull/7")
    store.record_check(1, now=clock.now(), next_check_at=clock.now() + 5, pull_requests=(pr,))
    notifier.drain()
    assert edits(slack_server) == 2
    assert "pull/7" in str(slack_server.message(GENERAL, status_ts)["blocks"])


def test_direct_messages_to_one_person_open_the_conversation_once(slack_server: SlackServer) -> None:
    slack = SlackOut(make_web_client(slack_server.bot_token, slack_server.api_url))
    first = slack.direct_message(ALICE, SlackMessage(text="Run 1 finished", blocks=[]))
    second = slack.direct_message(ALICE, SlackMessage(text="Run 2 finished", blocks=[]))
    assert first == second
    assert [m["text"] for m in slack_server.messages(first)] == ["Run 1 finished", "Run 2 finished"]
    assert slack_server.count("conversations.open") == 1


def test_finished_run_gets_no_more_elapsed_edits(parts, slack_server: SlackServer) -> None:
    store, notifier, clock, _ = parts
    store.record_check(1, now=clock.now(), next_check_at=clock.now(), status="COMPLETE", result="ok")
    notifier.drain()
    before = edits(slack_server)
    clock.advance(10 * ELAPSED_REFRESH_SECONDS)
    notifier.drain()
    assert edits(slack_server) == before
    assert slack_server.count("chat.postMessage", ok=True) == 2  # the status message, then the result once


def test_a_burst_of_finishes_posts_every_result_at_once_and_edits_within_slacks_limit(db_target: str) -> None:
    """Slack allows about 50 edits a minute: 120 runs finishing together get their results in their
    threads straight away, while their status messages catch up at the pace Slack allows, one edit
    each, with no 429 from Slack."""
    clock = FakeClock()
    store = Store(db_target)
    with start_slack_server(clock) as server:
        channels = [f"C0BURST{n:02d}" for n in range(40)]
        for channel in channels:
            server.add_channel(channel, name=channel.lower(), members=[ALICE])
        server.rate_limits_enabled = False  # seeding the status messages is not the bot's doing
        slack = SlackOut(make_web_client(server.bot_token, server.api_url), limits=SlackLimits(clock))
        cards: dict[int, tuple[str, str]] = {}
        for run_id in range(1, 121):
            channel = channels[run_id % len(channels)]
            ts = slack.post(channel, SlackMessage(text="ACTIVE", blocks=[]))
            cards[run_id] = channel, ts
            store.add_run(
                RunRecord(
                    run_id=run_id,
                    channel=channel,
                    thread_ts=ts,
                    requester=ALICE,
                    prompt="p",
                    status_ts=ts,
                    created_at=clock.now(),
                    changed_at=clock.now(),
                )
            )
            store.mark_shown(run_id, "ACTIVE", clock.now())
        server.rate_limits_enabled = True
        slack = SlackOut(make_web_client(server.bot_token, server.api_url), limits=SlackLimits(clock))
        notifier = notifier_jobs(store, slack, clock)
        for run_id in cards:  # two changes each before the notifier gets to them
            store.record_check(run_id, now=clock.now(), next_check_at=clock.now(), status="RUNNING")
            store.record_check(
                run_id,
                now=clock.now(),
                next_check_at=clock.now(),
                status="COMPLETE",
                result=f"result of {run_id}",
            )

        delay = notifier.drain()
        for run_id, (channel, ts) in cards.items():
            assert f"result of {run_id}" in str(server.messages(channel, ts)[1:]), run_id
        assert 0 < edits(server) < 50
        assert delay is not None and 0 < delay <= 60

        for _ in range(100):
            if not store.runs_to_show():
                break
            clock.advance(max(delay or 0.0, 0.1))
            delay = notifier.drain()
        assert not store.runs_to_show()
        assert edits(server) == 120  # one per run: its final state, not each change
        assert server.count("reactions.add", ok=True) == 120
        assert not [c for c in server.calls if c.error == "ratelimited"]
        assert clock.now() - 1_800_000_000.0 >= 60  # 120 edits cannot fit in Slack's first minute
        for channel, ts in cards.values():
            assert "COMPLETE" in str(server.message(channel, ts)["blocks"])
    store.close()
