"""The notifier in fake time: status messages are edited only when something changed, or to update
the elapsed time about once a minute, and never more than Slack allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.notifier import ELAPSED_REFRESH_SECONDS, Notifier
from bot.render.messages import SlackMessage
from bot.slack_out import SlackOut, make_web_client
from storage.records import RunRecord
from storage.store import Store
from tests.fakeclock import FakeClock
from tests.servers.slack_server import SlackServer

GENERAL = "C0GENERAL"


@pytest.fixture
def parts(tmp_path: Path, slack_server: SlackServer) -> Iterator[tuple[Store, Notifier, FakeClock, str]]:
    clock = FakeClock()
    store = Store(str(tmp_path / "bot.db"))
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
    yield store, Notifier(store=store, slack=slack, clock=clock), clock, status_ts
    store.close()


def edits(slack: SlackServer) -> int:
    return slack.count("chat.update", ok=True)


def test_status_message_is_edited_once_per_change(parts, slack_server: SlackServer) -> None:
    store, notifier, clock, status_ts = parts
    notifier.step()
    assert edits(slack_server) == 1
    for _ in range(5):
        clock.advance(5)
        store.record_check(1, now=clock.now(), next_check_at=clock.now() + 5, status="ACTIVE")
        notifier.step()
    assert edits(slack_server) == 1  # nothing changed, nothing edited
    store.record_check(1, now=clock.now(), next_check_at=clock.now() + 5, status="RUNNING")
    notifier.step()
    notifier.step()
    assert edits(slack_server) == 2
    assert "RUNNING" in str(slack_server.message(GENERAL, status_ts)["blocks"])


def test_elapsed_time_is_refreshed_about_once_a_minute(parts, slack_server: SlackServer) -> None:
    _, notifier, clock, status_ts = parts
    notifier.step()
    clock.advance(ELAPSED_REFRESH_SECONDS / 2)
    notifier.step()
    assert edits(slack_server) == 1
    clock.advance(ELAPSED_REFRESH_SECONDS)
    notifier.step()
    assert edits(slack_server) == 2
    assert "1m 30s" in str(slack_server.message(GENERAL, status_ts)["blocks"])


def test_finished_run_gets_no_more_elapsed_edits(parts, slack_server: SlackServer) -> None:
    store, notifier, clock, _ = parts
    store.record_check(1, now=clock.now(), next_check_at=clock.now(), status="COMPLETE", result="ok")
    notifier.step()
    before = edits(slack_server)
    clock.advance(10 * ELAPSED_REFRESH_SECONDS)
    notifier.step()
    assert edits(slack_server) == before
    assert slack_server.count("chat.postMessage", ok=True) == 2  # the status message, then the result once
