"""The create queue in fake time: requests beyond Codegen's create limit wait in order, see their
place in the queue, keep it across a restart, and their message becomes the run's message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cards import card_kinds
from bot.codegen import CodegenClient, RateLimits
from bot.create_queue import QUEUE_EDITS_PER_MINUTE, queue_kind
from bot.creates import CreateDeps, create_kind, refill_create_limiter
from bot.jobs import Runner
from bot.repos import RepoDirectory
from bot.slack_calls import make_web_client
from bot.slack_limits import SlackLimits
from bot.slack_out import SlackOut
from storage.audit import STOP, AuditEntry
from storage.database import CREATE_STEP
from storage.records import RequestWithdrawn
from storage.store import Store
from tests.fakeclock import FakeClock
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_fixtures import GENERAL, start_slack_server
from tests.servers.slack_server import SlackServer

LIMIT = 3


@dataclass
class Queue:
    codegen: CodegenServer
    slack_server: SlackServer
    clock: FakeClock
    db_path: Path
    store: Store | None = None
    runner: Runner | None = None
    cards: Runner | None = None
    client: CodegenClient | None = None

    def start_process(self) -> None:
        """What a (re)started bot has: a fresh limiter, client and connection to the same database."""
        self.store = Store(str(self.db_path))
        limits = RateLimits.from_counts(creates_per_minute=LIMIT, clock=self.clock)
        self.client = CodegenClient(
            base_url=self.codegen.url, token=self.codegen.token, org_id=self.codegen.org_id,
            limits=limits, clock=self.clock,
        )
        slack = SlackOut(
            make_web_client(self.slack_server.bot_token, self.slack_server.api_url),
            limits=SlackLimits(self.clock),
        )
        deps = CreateDeps(
            store=self.store, codegen=self.client, limits=limits, slack=slack,
            repos=RepoDirectory(self.client, self.clock), clock=self.clock,
        )
        refill_create_limiter(self.store, limits, self.clock.now())
        kinds = [create_kind(deps, on_started=lambda: None), queue_kind(deps, LIMIT)]
        self.runner = Runner(self.store, self.clock, kinds)
        self.cards = Runner(self.store, self.clock, card_kinds(self.store, slack, self.clock))

    def stop_process(self) -> None:
        assert self.store and self.client
        self.store.close()
        self.client.close()

    def ask(self, count: int) -> None:
        """`count` people run /codegen (as the handler records it)."""
        assert self.store
        start = len(self.codegen.runs()) + len(self.store.queue_head("create", 1000))
        for n in range(start, start + count):
            self.store.add_request(
                key=f"command:{n}", kind="create", channel=GENERAL, user="U0ALICE", prompt=f"task {n}",
                now=self.clock.now(),
            )

    def work(self) -> None:
        """Run the create and queue jobs until they have nothing more to do at this moment."""
        assert self.runner
        while (delay := self.runner.drain()) is not None and delay <= 0.05:
            self.clock.advance(delay)

    def prompts(self) -> list[str]:
        return [self.codegen.run_inputs(run["id"])["prompt"] for run in self.codegen.runs()]

    def shown(self) -> list[str]:
        """The channel's messages (each a request's or run's message), oldest first."""
        return [m["text"] for m in self.slack_server.messages(GENERAL)]

    def message_of(self, n: int) -> dict:
        """The one message about request number `n` (it quotes the prompt)."""
        messages = self.slack_server.messages(GENERAL)
        (found,) = [m for m in messages if re.search(rf"task {n}\b", str(m["blocks"]))]
        return found

    def text_of(self, n: int) -> str:
        return self.message_of(n)["text"]


@pytest.fixture
def queue(codegen_server: CodegenServer, tmp_path: Path) -> Iterator[Queue]:
    clock = codegen_server.clock
    assert isinstance(clock, FakeClock)
    codegen_server.set_limits(create=LIMIT)
    slack = start_slack_server(clock)
    slack.rate_limits_enabled = False  # Slack's limits are not what these tests are about
    q = Queue(codegen_server, slack, clock, tmp_path / "bot.db")
    q.start_process()
    yield q
    q.stop_process()
    slack.close()
    assert codegen_server.count(status=429) == 0


def test_requests_over_the_limit_wait_in_order_and_see_their_place(queue: Queue) -> None:
    queue.ask(6)
    queue.work()
    assert queue.prompts() == ["task 0", "task 1", "task 2"]
    assert [queue.text_of(n).split("—")[1].strip() for n in (3, 4, 5)] == [
        "position 1, starts in about 1 min",
        "position 2, starts in about 1 min",
        "position 3, starts in about 1 min",
    ]
    assert all("Starting" in queue.text_of(n) for n in (0, 1, 2))  # started at once: never queued
    queue.clock.advance(60)
    queue.work()
    assert queue.prompts() == [f"task {n}" for n in range(6)]
    assert queue.slack_server.ephemerals() == []  # nobody was told no


def test_a_long_queue_keeps_the_front_accurate_within_an_edit_budget(queue: Queue) -> None:
    queue.ask(40)
    queue.work()
    assert len(queue.shown()) == 40  # three starting, 37 queued, each with one message
    last = re.search(r"position (\d+), starts in about (\d+) min", queue.text_of(39))
    assert last and int(last[1]) >= 37 and last[2] == "13"  # never less than the real wait
    for minute in range(1, 4):
        queue.clock.advance(60)
        queue.work()
        started = LIMIT * (minute + 1)
        assert queue.prompts() == [f"task {n}" for n in range(started)]
        edits = queue.slack_server.count("chat.update", ok=True)
        assert edits <= QUEUE_EDITS_PER_MINUTE * (minute + 1)  # at most the budget in each minute so far
        assert "position 1," in queue.text_of(started)  # the next to start always knows it
        assert f"position {QUEUE_EDITS_PER_MINUTE}," in queue.text_of(started + QUEUE_EDITS_PER_MINUTE - 1)
    assert len(queue.shown()) == 40  # edited in place, never posted again


def test_queued_requests_survive_a_restart_and_keep_their_order(queue: Queue) -> None:
    queue.ask(LIMIT + 4)
    queue.work()
    before = queue.shown()
    queue.stop_process()
    queue.clock.advance(10)
    queue.start_process()
    queue.work()
    assert queue.prompts() == [f"task {n}" for n in range(LIMIT)]  # the last minute's creates still count
    assert queue.shown() == before
    queue.clock.advance(60)
    queue.work()
    assert queue.prompts() == [f"task {n}" for n in range(2 * LIMIT)]
    assert len(queue.shown()) == LIMIT + 4  # the same messages, none posted twice
    assert "position 1, starts in about 1 min" in queue.text_of(2 * LIMIT)


def test_the_queued_message_becomes_the_run_message(queue: Queue) -> None:
    queue.ask(LIMIT + 1)
    queue.work()
    message = queue.message_of(LIMIT)
    assert "position 1, starts in about 1 min" in message["text"]
    queue.clock.advance(60)
    queue.work()
    run_id = queue.codegen.runs()[-1]["id"]
    assert queue.cards
    queue.cards.drain()  # the run's card job shows it in the queued message
    now_shown = queue.slack_server.message(GENERAL, message["ts"])
    assert f"Codegen run #{run_id}" in now_shown["text"] and "Queued" not in now_shown["text"]
    assert len(queue.shown()) == LIMIT + 1


def test_a_cancelled_request_never_starts_and_one_being_started_cannot_be_cancelled(queue: Queue) -> None:
    assert queue.store
    queue.ask(5)
    queue.work()
    cancelled, starting = queue.store.queue_head("create", 10)  # tasks 3 and 4 wait for a slot
    cancel = AuditEntry(at=queue.clock.now(), actor="U0ALICE", action=STOP)
    assert queue.store.cancel_create(cancelled.id, "U0ALICE", now=queue.clock.now(), audit=cancel)
    with pytest.raises(RequestWithdrawn):  # a create job that read it just before cannot go on
        queue.store.note_step(cancelled.id, CREATE_STEP, while_pending=True)
    queue.store.note_step(starting.id, CREATE_STEP, while_pending=True)  # its job is asking Codegen now
    assert queue.store.cancel_create(starting.id, "U0ALICE", now=queue.clock.now(), audit=cancel) is None
    queue.work()
    assert cancelled.status_ts  # its queued message, now edited to say so:
    shown = queue.slack_server.message(GENERAL, cancelled.status_ts)["text"]
    assert shown == "🚫 Cancelled by <@U0ALICE> before it started: nothing was sent to Codegen."
    queue.clock.advance(61)
    queue.work()
    assert queue.prompts() == ["task 0", "task 1", "task 2", "task 4"]
