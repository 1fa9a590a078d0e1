"""Three replicas of `codegen-slack serve` on one PostgreSQL database, one of them killed at a time.

Slack's requests (slash commands, @mentions, replies in run threads) go round-robin to the three
processes, as a load balancer spreads them. Meanwhile one replica at a time is killed with SIGKILL
at seeded moments, half of the time the one that leads, and started again on its port. A request
whose replica was dead goes to the next one, as Slack retries an event that got no 2xx (with
X-Slack-Retry-Num) and as a load balancer retries a command on a live replica. Afterwards: every
command and mention made exactly one run, every finish was announced once, every follow-up reached
its run once, Codegen never saw more than its limit of creates in a minute, and neither Codegen
nor Slack answered with a 429.

This is the suite's one slow test: twenty creates at Codegen's limit of ten a minute, on the real
clock, take about two minutes.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bot.clock import SystemClock
from bot.codegen import IDEMPOTENCY_KEY
from bot.leader import LEADER
from bot.render.results import RESULT_EVENT
from bot.render.status_card import STATUS_EVENT
from tests.harness import AppUnderTest, sign
from tests.postgres import empty_schema
from tests.servers.codegen_fixtures import make_codegen_server
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import SubprocessApp, bot_env

SEED = 20_261_130
REPLICAS = 3
COMMANDS = MENTIONS = 10
FOLLOW_UPS = 2  # per run: 20 runs, 40 thread replies, 60 requests in all
FINISHES = FOLLOW_UPS + 1
START_EVERY_SECONDS = 1.5
KILLS = 8
CREATES_PER_MINUTE = 10  # Codegen's limit, kept by the test server
ANSWER_DELAY_SECONDS = 0.5
GENERAL, ALICE, BOB, BOT = "C0GENERAL", "U0ALICE", "U0BOB", "UBOT"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass(frozen=True)
class SlackRequest:
    """One request as Slack sends it: the same body each time it is sent again."""

    body: bytes
    content_type: str
    is_event: bool


class SlackRequests:
    """The harness's command and event bodies, kept to be sent (and re-sent) later."""

    command = AppUnderTest.command
    event = AppUnderTest.event

    def __init__(self) -> None:
        self._events = 0

    def post(self, body: bytes, content_type: str, headers: None = None) -> SlackRequest:
        return SlackRequest(body, content_type, content_type == "application/json")


class Replicas:
    """The replicas behind a round-robin load balancer."""

    def __init__(self, apps: list[SubprocessApp]) -> None:
        self.apps = apps
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.sent = 0
        self.resent = 0

    def deliver(self, request: SlackRequest) -> None:
        """Send to the next replica in turn until one answers 2xx; an event sent again says which
        retry it is, as Slack's do."""
        with self._lock:
            turn = next(self._turn)
        self.sent += 1
        for attempt in itertools.count():
            app = self.apps[(turn + attempt) % len(self.apps)]
            headers = sign(request.body, secret=app.env["SLACK_SIGNING_SECRET"])
            if attempt and request.is_event:
                headers |= {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"}
            try:
                if app.post(request.body, request.content_type, headers).is_success:
                    return
            except httpx.TransportError:
                pass
            self.resent += 1
            assert attempt < 100, "no replica answered"
            if attempt % len(self.apps) == len(self.apps) - 1:
                time.sleep(0.2)  # every replica refused this round: give them a moment


@dataclass
class Flow:
    """One person's run: asked for by a command or a mention, finished, followed up, finished again."""

    number: int
    by_mention: bool
    key: str = ""
    run_id: int = 0
    thread_ts: str = ""
    finished: int = 0  # finishes set in Codegen
    replies: int = 0  # follow-ups sent in the thread
    done: bool = False

    @property
    def prompt(self) -> str:
        return f"task number {self.number}"

    def follow_up(self, n: int) -> str:
        return f"follow-up {n} to task {self.number}"


class Workload:
    """Moves every started flow forward as far as what Slack and Codegen show allows."""

    def __init__(self, replicas: Replicas, slack: SlackServer, codegen: CodegenServer) -> None:
        self.replicas, self.slack, self.codegen = replicas, slack, codegen
        self.requests = SlackRequests()
        self.flows = [Flow(n, by_mention=n % 2 == 1) for n in range(COMMANDS + MENTIONS)]

    def step(self, started: int) -> None:
        runs = {(r["metadata"] or {}).get(IDEMPOTENCY_KEY): r for r in self.codegen.runs()}
        for flow in self.flows[:started]:
            if not flow.key:
                self._ask(flow)
            elif not flow.run_id:
                if flow.key in runs:
                    flow.run_id = runs[flow.key]["id"]
                    flow.thread_ts = runs[flow.key]["metadata"]["slack_thread_ts"]
            elif not flow.done:
                self._advance(flow)

    def _ask(self, flow: Flow) -> None:
        if flow.by_mention:
            text = f"<@{BOT}> {flow.prompt}"
            ts = self.slack.post_as_user(GENERAL, ALICE, text)
            event = {"type": "app_mention", "channel": GENERAL, "user": ALICE, "text": text, "ts": ts}
            flow.key = f"message:{GENERAL}:{ts}"
            self.replicas.deliver(self.requests.event(event, event_id=f"EvMention{flow.number}"))
        else:
            trigger = f"{flow.number}.{time.time_ns()}.replicas"
            flow.key = f"command:{trigger}"
            self.replicas.deliver(self.requests.command(flow.prompt, trigger_id=trigger))

    def _advance(self, flow: Flow) -> None:
        """Finish the run when it works, reply in its thread once its last finish is announced."""
        if flow.finished == flow.replies:  # it works: on its first pass, or on the last follow-up
            if flow.replies and not self._resumed(flow, flow.replies):
                return
            self.codegen.set_status(flow.run_id, "COMPLETE", result=f"Pass {flow.finished + 1} done.")
            flow.finished += 1
        elif self._announced(flow, flow.finished):
            if flow.replies == FOLLOW_UPS:
                flow.done = True
                return
            flow.replies += 1
            self._reply(flow, flow.follow_up(flow.replies))

    def _resumed(self, flow: Flow, count: int) -> bool:
        resumes = self.codegen.run_inputs(flow.run_id)["resumes"]
        return len(resumes) >= count and self.codegen.run(flow.run_id)["status"] == "ACTIVE"

    def _announced(self, flow: Flow, finish: int) -> bool:
        return any(p.get("finish") == finish for p in self.results(flow))

    def results(self, flow: Flow) -> list[dict[str, Any]]:
        return payloads(self.slack.messages(GENERAL, thread_ts=flow.thread_ts), RESULT_EVENT)

    def _reply(self, flow: Flow, text: str) -> None:
        ts = self.slack.post_as_user(GENERAL, BOB, text, thread_ts=flow.thread_ts)
        event = {
            "type": "message", "channel": GENERAL, "channel_type": "channel", "user": BOB, "text": text,
            "ts": ts, "thread_ts": flow.thread_ts,
        }  # fmt: skip
        self.replicas.deliver(self.requests.event(event, event_id=f"EvReply{flow.number}.{flow.replies}"))


def payloads(messages: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [
        m["metadata"]["event_payload"]
        for m in messages
        if m.get("bot_id") and (m.get("metadata") or {}).get("event_type") == event_type
    ]


class Killer(threading.Thread):
    """Kills one replica at a time with SIGKILL at seeded moments (every other time the leader) and
    starts it again on its port."""

    def __init__(self, apps: list[SubprocessApp], db_url: str) -> None:
        super().__init__(name="killer", daemon=True)
        self.apps, self.db_url = apps, db_url
        self.kills = 0
        self.leaders_killed = 0
        self.error: BaseException | None = None
        self._rng = random.Random(SEED)

    def run(self) -> None:
        try:
            for n in range(KILLS):
                time.sleep(self._rng.uniform(3.0, 12.0))
                leader = self.leader() if n % 2 == 0 else None
                victim = leader or self._rng.choice(self.apps)
                victim.kill()
                self.kills += 1
                self.leaders_killed += leader is not None
                victim.start(timeout=60)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def leader(self) -> SubprocessApp | None:
        """The replica holding the leader's lease now (None while the lease is free)."""
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute(
                "SELECT owner FROM leases WHERE name = %s AND until > %s", (LEADER, time.time())
            ).fetchone()
        pid = int(row[0].split(":")[1]) if row else None
        return next((app for app in self.apps if app.pid == pid), None)


@pytest.fixture
def codegen() -> Iterator[CodegenServer]:
    """The Codegen double with its real limits (10 creates a minute) on the real clock."""
    server = make_codegen_server(clock=SystemClock(), create_limit=CREATES_PER_MINUTE)
    yield server
    server.stop()
    # A SIGKILL in the middle of sending a request leaves its body cut short; anything else is a fault.
    cut_short = ("Failed to deserialize value", "Missing required request body")
    assert [v for v in server.contract_violations if not any(c in v for c in cut_short)] == []


@pytest.fixture
def replicas(
    codegen: CodegenServer, slack_server: SlackServer, postgres: str, tmp_path: Path
) -> Iterator[tuple[list[SubprocessApp], str]]:
    with empty_schema(postgres) as url:
        env = bot_env(codegen, slack_server, url)
        apps = []
        for n in range(REPLICAS):
            workdir = tmp_path / f"replica-{n}"
            workdir.mkdir()
            apps.append(SubprocessApp(env, workdir))
        try:
            for app in apps:
                app.start(timeout=60)
            yield apps, url
        finally:
            for app in apps:
                app.stop()


def most_in_a_minute(times: list[float]) -> int:
    """The most of `times` (seconds) that fall in any 60 s window."""
    ordered = sorted(times)
    return max((sum(t <= start < t + 60 for start in ordered) for t in ordered), default=0)


def test_replicas_killed_one_at_a_time_lose_and_repeat_nothing(
    replicas: tuple[list[SubprocessApp], str], slack_server: SlackServer, codegen: CodegenServer
) -> None:
    apps, url = replicas
    for call in ("create_run", "resume_run"):  # done at once, answered later: a kill may fall between
        codegen.delay_next(1_000, ANSWER_DELAY_SECONDS, path=call)
    balancer = Replicas(apps)
    workload = Workload(balancer, slack_server, codegen)
    killer = Killer(apps, url)
    killer.start()
    began = time.monotonic()
    deadline = began + 420

    def finished() -> bool:
        return all(flow.done for flow in workload.flows) and not killer.is_alive()

    while not finished():
        assert killer.error is None, killer.error
        assert time.monotonic() < deadline, [(f.run_id, f.finished, f.replies) for f in workload.flows]
        workload.step(started=1 + int((time.monotonic() - began) / START_EVERY_SECONDS))
        time.sleep(0.1)
    assert killer.kills == KILLS and killer.leaders_killed >= 1
    assert balancer.sent == (COMMANDS + MENTIONS) * (1 + FOLLOW_UPS)
    time.sleep(2.0)  # whatever a replica would repeat gets its chance to show

    flows = workload.flows
    runs = codegen.runs()
    made = Counter((r["metadata"] or {}).get(IDEMPOTENCY_KEY) for r in runs)
    assert made == Counter(flow.key for flow in flows), "a request made no run, or more than one"
    for flow in flows:
        inputs = codegen.run_inputs(flow.run_id)
        assert inputs["prompt"] == flow.prompt
        follow_ups = [flow.follow_up(n) for n in range(1, FOLLOW_UPS + 1)]
        assert [r["prompt"] for r in inputs["resumes"]] == follow_ups
        posted = Counter((p["finish"], p["part"]) for p in workload.results(flow))
        assert sorted(posted) == [(finish, 1) for finish in range(1, FINISHES + 1)], posted
        assert set(posted.values()) == {1}, f"run {flow.run_id}: a finish announced twice: {posted}"
        thread = slack_server.messages(GENERAL, thread_ts=flow.thread_ts)
        assert [p["run_id"] for p in payloads(thread, STATUS_EVENT)] == [flow.run_id], "one status message"
    assert most_in_a_minute([c.at for c in codegen.calls if c.route == "create_run"]) <= CREATES_PER_MINUTE
    assert codegen.count(status=429) == 0
    assert [c.method for c in slack_server.calls if c.error == "ratelimited"] == []
    assert [app.terminate() for app in apps] == [0] * REPLICAS
