"""Every Slack error in its class, on every effect (in fake time, against the Slack test server):
gone ends the effect at once and the result still reaches the requester; our own bug falls back to
plain text; an auth failure pauses Slack work until the token works again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bot.announce import announce_kind
from bot.cards import card_kinds
from bot.codegen import CodegenClient
from bot.home_refresh import home_kind
from bot.jobs import Runner
from bot.render.messages import SlackMessage
from bot.replies import reply_kinds
from bot.repos import RepoDirectory
from bot.slack_calls import make_web_client
from bot.slack_errors import GONE, SlackErrorClass, classify_slack_error
from bot.slack_limits import SlackLimits
from bot.slack_out import SlackOut
from storage.records import JobStatus, RunRecord
from storage.store import Store
from tests.fakeclock import FakeClock
from tests.servers.slack_fixtures import ALICE, GENERAL, start_slack_server
from tests.servers.slack_server import SlackServer


@dataclass
class World:
    store: Store
    slack: SlackServer
    out: SlackOut
    clock: FakeClock
    runner: Runner

    def a_run(self, run_id: int, status: str = "ACTIVE") -> str:
        """A run with its status message in #general; returns the message's ts."""
        ts = self.out.post(GENERAL, SlackMessage(text="Starting…", blocks=[]))
        now = self.clock.now()
        self.store.add_run(
            RunRecord(run_id=run_id, channel=GENERAL, thread_ts=ts, requester=ALICE, prompt="fix it",
                      status=status, status_ts=ts, created_at=now, changed_at=now)
        )  # fmt: skip
        return ts

    def finish(self, run_id: int) -> None:
        now = self.clock.now()
        self.store.record_check(run_id, now=now, next_check_at=now + 5, status="COMPLETE", result="Fixed it.")

    def settle(self) -> None:
        for _ in range(50):
            wait = self.runner.drain()
            if wait is None or wait >= 30:  # only the minutely card refresh is left
                return
            self.clock.advance(wait)

    def unsettled(self) -> list[tuple[str, str]]:
        """Jobs that are not done (besides the recurring ones of working runs)."""
        jobs = self.store.jobs_in((JobStatus.RETRYING, JobStatus.DEAD, JobStatus.RUNNING))
        return [(job.kind, job.status.value) for job in jobs]


@pytest.fixture
def world(db_target: str) -> Iterator[World]:
    clock = FakeClock()
    store = Store(db_target)
    with start_slack_server(clock) as slack:
        out = SlackOut(make_web_client(slack.bot_token, slack.api_url), limits=SlackLimits(clock))
        nowhere = CodegenClient(base_url="http://127.0.0.1:9", token="unused", org_id=1)  # (repos: unused)
        kinds = [
            announce_kind(store, out, clock),
            *card_kinds(store, out, clock),
            home_kind(store, out, clock),
            *reply_kinds(out, RepoDirectory(nowhere, clock), store),
        ]
        yield World(store, slack, out, clock, Runner(store, clock, kinds, probe_slack=out.token_works))
    store.close()


def direct_messages(slack: SlackServer) -> list:
    return [
        c
        for c in slack.calls
        if c.method == "chat.postMessage" and c.ok and str(c.params["channel"])[0] == "D"
    ]


def failures(slack: SlackServer, method: str) -> list[str]:
    return [str(call.error) for call in slack.calls if call.method == method and not call.ok]


@pytest.mark.parametrize("error", sorted(GONE))
def test_a_gone_thread_sends_the_result_to_the_requester_by_dm(world: World, error: str) -> None:
    world.a_run(1)
    world.settle()
    world.slack.fail_next("chat.postMessage", error)
    world.finish(1)
    world.settle()
    assert failures(world.slack, "chat.postMessage") == [error]  # tried once, never again
    dms = [str(call.params.get("text")) for call in direct_messages(world.slack)]
    assert any("Codegen run 1" in text for text in dms) and any("Fixed it." in text for text in dms)
    assert world.unsettled() == []


def test_a_result_slack_refuses_for_good_reaches_the_requester_by_dm_once(world: World) -> None:
    world.a_run(1)
    world.settle()
    world.slack.fail_next("chat.postMessage", "posting_to_general_channel_denied")
    world.finish(1)
    world.settle()
    dms = [str(call.params.get("text")) for call in direct_messages(world.slack)]
    assert sum("posting_to_general_channel_denied" in text for text in dms) == 1
    assert sum("Fixed it." in text for text in dms) == 1
    assert [job.kind for job in world.store.jobs_in((JobStatus.DEAD,))] == ["announce"]


def test_a_dm_that_fails_for_a_moment_is_sent_again(world: World) -> None:
    world.a_run(1)
    world.settle()
    world.slack.update_channel(GENERAL, archived=True)  # the result cannot go to the thread
    world.slack.fail_next("chat.postMessage", "internal_error", after=1)  # nor, once, the DM
    world.finish(1)
    world.settle()
    dms = [str(call.params.get("text")) for call in direct_messages(world.slack)]
    assert any("Fixed it." in text for text in dms)
    assert world.unsettled() == []


@pytest.mark.parametrize("error", sorted(GONE))
def test_a_gone_status_message_ends_its_edits(world: World, error: str) -> None:
    world.a_run(1)
    world.slack.fail_next("chat.update", error)
    world.settle()
    world.finish(1)
    world.settle()
    assert failures(world.slack, "chat.update") == [error]
    assert world.unsettled() == []
    assert any("Fixed it." in str(m) for m in world.slack.messages(GENERAL, world.store.get_run(1).thread_ts))


@pytest.mark.parametrize("error", sorted(GONE))
def test_a_gone_reaction_target_ends_the_reaction(world: World, error: str) -> None:
    ts = world.a_run(1)
    world.settle()
    world.slack.fail_next("reactions.add", error)
    world.finish(1)
    world.settle()
    assert failures(world.slack, "reactions.add") == [error]
    assert world.slack.count("reactions.add") == 1
    assert "COMPLETE" in str(world.slack.message(GENERAL, ts)["blocks"])
    assert world.unsettled() == []


@pytest.mark.parametrize("error", sorted(GONE))
def test_a_gone_dm_ends_the_finish_dm(world: World, error: str) -> None:
    world.store.set_user_prefs(ALICE, dm_on_finish=True)
    ts = world.a_run(1)
    world.settle()
    world.slack.fail_next("chat.postMessage", error, after=1)  # the result posts; the DM is refused
    world.finish(1)
    world.settle()
    assert failures(world.slack, "chat.postMessage") == [error]
    assert any("Fixed it." in str(m) for m in world.slack.messages(GENERAL, ts))
    assert world.unsettled() == []


@pytest.mark.parametrize("error", sorted(GONE))
def test_a_gone_home_ends_its_publish(world: World, error: str) -> None:
    world.store.home_opened(ALICE, world.clock.now())
    world.slack.fail_next("views.publish", error)
    world.settle()
    assert failures(world.slack, "views.publish") == [error]
    assert world.unsettled() == []


def test_a_deleted_mention_gets_no_reaction_and_its_result_still_arrives(world: World) -> None:
    mention = world.slack.post_as_user(GENERAL, ALICE, "<@UBOT> fix the login test")
    card = world.out.post(GENERAL, SlackMessage(text="Starting…", blocks=[]), thread_ts=mention)
    now = world.clock.now()
    world.store.add_run(
        RunRecord(run_id=1, channel=GENERAL, thread_ts=mention, requester=ALICE, prompt="fix the login test",
                  status_ts=card, created_at=now, changed_at=now)
    )  # fmt: skip
    world.settle()
    world.slack.delete_as_user(GENERAL, mention)
    world.finish(1)
    world.settle()
    world.clock.advance(600)
    world.settle()
    assert failures(world.slack, "reactions.add") == ["message_not_found"]  # once, not every 5 s
    assert any("Fixed it." in str(m) for m in world.slack.messages(GENERAL, mention))
    assert "COMPLETE" in str(world.slack.message(GENERAL, card)["blocks"])
    assert world.unsettled() == []


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long"])
def test_a_message_slack_refuses_as_built_goes_as_plain_text(world: World, error: str) -> None:
    ts = world.a_run(1)
    world.settle()
    world.slack.fail_next("chat.postMessage", error)
    world.finish(1)
    world.settle()
    (result,) = world.slack.messages(GENERAL, ts)[1:]
    assert "Fixed it." in result["text"] and not result.get("blocks")
    assert world.unsettled() == []


def test_a_revoked_token_pauses_slack_work_until_it_works_again(world: World) -> None:
    ts = world.a_run(1)
    world.settle()
    world.slack.fail_next("chat.postMessage", "token_revoked")
    world.slack.fail_next("auth.test", "token_revoked", count=3)
    world.finish(1)
    world.runner.drain()
    assert world.runner.slack_paused and world.out.health.auth_error == "token_revoked"
    for _ in range(3):  # the token is tried every few seconds; nothing else is sent meanwhile
        world.clock.advance(30)
        world.runner.drain()
    assert world.slack.count("chat.postMessage") == 2 and world.slack.count("chat.update") == 1
    world.clock.advance(30)
    world.settle()
    assert not world.runner.slack_paused and world.out.health.auth_error is None
    assert any("Fixed it." in str(m) for m in world.slack.messages(GENERAL, ts))
    assert world.unsettled() == []


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("message_not_found", SlackErrorClass.GONE),
        ("ratelimited", SlackErrorClass.TRANSIENT),
        ("internal_error", SlackErrorClass.TRANSIENT),
        ("invalid_auth", SlackErrorClass.AUTH),
        ("account_inactive", SlackErrorClass.AUTH),
        ("invalid_blocks", SlackErrorClass.OUR_BUG),
        ("missing_scope", SlackErrorClass.PERMANENT),
    ],
)
def test_slack_errors_fall_in_their_documented_class(error: str, kind: SlackErrorClass) -> None:
    assert classify_slack_error(error) == kind
