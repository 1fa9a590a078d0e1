"""Crashes lose nothing and repeat nothing.

First, each window where a crash used to repeat or lose an effect, set up as the crash left it (the
effect done, the database not yet told) and handed to a freshly started bot. Then the bot runs as a
real process (`codegen-slack serve`) and is killed with SIGKILL at random moments (fixed seed) while
runs are created, held and resumed, and finished twice; each time it is restarted on the same
database. Afterwards: no run was made twice, every follow-up reached its run once, every finish was
announced once, every notice and status message exists once, and every thread still leads to its
run. A SIGTERM lets in-flight work finish and exits 0.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import SystemClock
from bot.codegen import IDEMPOTENCY_KEY, CodegenClient
from bot.once import CREATE_STEP, STATUS_MESSAGE_STEP
from bot.render.messages import RECEIVED_REACTION, SlackMessage
from bot.render.results import RESULT_EVENT
from bot.render.status_card import STATUS_EVENT, starting_message
from bot.resumes import DELIVERED, HELD, HELD_STEP, NOTICE_EVENT, SENDING_STEP, notice_message
from bot.slack_calls import make_web_client
from bot.slack_out import SlackOut
from storage.records import Request, RequestKind, RunRecord
from storage.store import Store
from tests.harness import wait_for
from tests.servers.codegen_fixtures import make_codegen_server
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.subprocess_app import SubprocessApp, bot_env

SEED = 20_240_611
KILLS = 20
FLOWS = 8
GENERAL, ALICE, BOB, BOT = "C0GENERAL", "U0ALICE", "U0BOB", "UBOT"
NO_LIMIT = 10_000
ANSWER_DELAY_SECONDS = 0.25


def bot_messages(slack: SlackServer, thread_ts: str | None = None) -> list[dict[str, Any]]:
    """The bot's messages at the top of the channel, or in a thread."""
    return [m for m in slack.messages(GENERAL, thread_ts=thread_ts) if m.get("bot_id")]


def payloads(messages: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [
        m["metadata"]["event_payload"]
        for m in messages
        if (m.get("metadata") or {}).get("event_type") == event_type
    ]


# --- each crash window, as the crash left it --------------------------------------------------------


@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[Store]:
    """The database the app of `make_app` will open, to write what a crashed process had written."""
    store = Store(str(tmp_path / "bot.db"))
    yield store
    store.close()


def slack_out(slack: SlackServer) -> SlackOut:
    return SlackOut(make_web_client(slack.bot_token, slack.api_url))


def a_request(store: Store, kind: RequestKind, **fields: Any) -> Request:
    values: dict[str, Any] = {
        "key": f"{kind}:{time.monotonic_ns()}",
        "channel": GENERAL,
        "user": ALICE,
        "prompt": "fix the login test",
        "now": time.time(),
        "options": {"thread_context": False, "message_ts": ""},
    }
    request = store.add_request(kind=kind, **{**values, **fields})
    assert request is not None
    return request


def a_stored_run(store: Store, codegen: CodegenServer, slack: SlackServer, status: str) -> tuple[int, str]:
    """A run the bot had started earlier, with its thread; returns (run id, thread ts)."""
    run_id = codegen.add_run(prompt="fix the login test", status=status)["id"]
    ts = slack_out(slack).post(GENERAL, SlackMessage(text=f"run {run_id}", blocks=[]))
    now = time.time()
    record = RunRecord(
        run_id=run_id,
        channel=GENERAL,
        thread_ts=ts,
        requester=ALICE,
        prompt="fix the login test",
        status=status,
        status_ts=ts,
        created_at=now,
        changed_at=now,
    )
    store.add_run(record)
    store.mark_shown(run_id, status, now)
    return run_id, ts


def test_status_message_posted_just_before_a_crash_is_not_posted_again(
    prepared: Store, make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    request = a_request(prepared, "create")
    assert not prepared.note_step(request.id, STATUS_MESSAGE_STEP)
    posted = slack_out(slack_server).post(GENERAL, starting_message(request))  # its ts never stored
    app = make_app()
    run_id = wait_for(codegen_api.runs, what="the run")[0]["id"]
    run = wait_for(lambda: app.bot.store.get_run(run_id), what="the run stored")
    assert [m["ts"] for m in bot_messages(slack_server)] == [posted]
    assert run.status_ts == posted and run.thread_ts == posted


def test_run_created_just_before_a_crash_is_found_not_made_again(
    prepared: Store, make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    request = a_request(prepared, "create")
    ts = slack_out(slack_server).post(GENERAL, starting_message(request))
    prepared.update_request(request.id, status_ts=ts, thread_ts=ts)
    assert not prepared.note_step(request.id, CREATE_STEP)
    metadata = {IDEMPOTENCY_KEY: request.key, "slack_channel": GENERAL, "slack_thread_ts": ts}
    run_id = codegen_api.add_run(prompt=request.prompt, metadata=metadata)["id"]  # its answer was lost
    app = make_app()
    run = wait_for(lambda: app.bot.store.run_for_thread(GENERAL, ts), what="the thread mapped")
    assert run.run_id == run_id
    assert len(codegen_api.runs()) == 1


@pytest.mark.parametrize("arrived", [True, False], ids=["arrived", "lost"])
def test_follow_up_sent_just_before_a_crash_reaches_the_run_once(
    arrived: bool, prepared: Store, make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, ts = a_stored_run(prepared, codegen_api, slack_server, "COMPLETE")
    request = a_request(prepared, "resume", prompt="also add tests", run_id=run_id, thread_ts=ts)
    assert not prepared.note_step(request.id, SENDING_STEP)
    if arrived:  # the process died before it heard Codegen's answer
        with CodegenClient(base_url=codegen_api.url, token=codegen_api.token, org_id=codegen_api.org_id) as c:
            c.resume_run(run_id, "also add tests")
    app = make_app()
    wait_for(lambda: app.bot.store.get_request(request.id).state == "done", what="the follow-up done")
    assert codegen_api.run_inputs(run_id)["resumes"] == [{"prompt": "also add tests", "images": None}]
    assert app.bot.store.get_run(run_id).status == "ACTIVE"


def test_held_notice_posted_just_before_a_crash_is_not_posted_again(
    prepared: Store, make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, ts = a_stored_run(prepared, codegen_api, slack_server, "ACTIVE")
    request = a_request(prepared, "resume", prompt="use postgres", run_id=run_id, thread_ts=ts)
    assert not prepared.note_step(request.id, HELD_STEP)
    slack_out(slack_server).post(GENERAL, notice_message(request, HELD), thread_ts=ts)  # notice not stored
    app = make_app()
    wait_for(lambda: app.bot.store.get_request(request.id).notice == HELD, what="the follow-up held")
    notices = payloads(bot_messages(slack_server, ts), NOTICE_EVENT)
    assert notices == [{"request_id": request.id, "notice": HELD}]


def test_result_partly_posted_before_a_failure_is_completed_not_repeated(
    make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app = make_app()
    app.command("write the changelog")
    run_id = wait_for(codegen_api.runs, what="the run")[0]["id"]
    run = wait_for(lambda: app.bot.store.get_run(run_id), what="the run stored")
    # A result long enough for two messages; the first is posted, the second fails.
    slack_server.fail_next("chat.postMessage", "internal_error", after=1)
    codegen_api.set_status(run_id, "COMPLETE", result="Changelog written.\n" + "A line of changes.\n" * 1200)
    wait_for(lambda: slack_server.count("chat.postMessage", ok=False), what="the failure after the post")
    wait_for(
        lambda: not app.bot.store.announcement_due(run_id) and app.bot.store.get_run(run_id).finished,
        timeout=15,
        what="the finish announced",
    )
    results = payloads(bot_messages(slack_server, run.thread_ts), RESULT_EVENT)
    parts = results[0]["parts"]
    assert parts > 1
    assert [(p["finish"], p["part"]) for p in results] == [(1, part) for part in range(1, parts + 1)]
    wait_for(
        lambda: "white_check_mark" in slack_server.message(GENERAL, run.thread_ts)["reactions"],
        what="the finish marked on the thread",
    )


def test_result_is_announced_before_a_waiting_follow_up_moves_the_run_on(
    prepared: Store, make_app, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    run_id, ts = a_stored_run(prepared, codegen_api, slack_server, "ACTIVE")
    codegen_api.set_status(run_id, "COMPLETE", result="First pass done.")
    now = time.time()
    prepared.record_check(run_id, now=now, next_check_at=now, status="COMPLETE", result="First pass done.")
    request = a_request(prepared, "resume", prompt="now the docs", run_id=run_id, thread_ts=ts)
    slack_server.delay_next("chat.update", 0.5)  # the notifier is slow to start; the follow-up is not
    app = make_app()
    wait_for(lambda: app.bot.store.get_request(request.id).state == "done", what="the follow-up sent")
    results = payloads(bot_messages(slack_server, ts), RESULT_EVENT)
    assert [(p["finish"], p["part"]) for p in results] == [(1, 1)]


# --- SIGKILL at random moments, and SIGTERM ----------------------------------------------------------


@pytest.fixture
def codegen() -> Iterator[CodegenServer]:
    """The Codegen double with limits far above what the workload needs (limits are tested elsewhere)."""
    server = make_codegen_server(
        clock=SystemClock(), create_limit=NO_LIMIT, standard_limit=NO_LIMIT, logs_limit=NO_LIMIT
    )
    yield server
    server.stop()
    # A SIGKILL in the middle of sending a request leaves its body cut short; anything else is a fault.
    cut_short = ("Failed to deserialize value", "Missing required request body")
    assert [v for v in server.contract_violations if not any(c in v for c in cut_short)] == []


@pytest.fixture
def bot(codegen: CodegenServer, slack_server: SlackServer, tmp_path: Path) -> Iterator[SubprocessApp]:
    slack_server.rate_limits_enabled = False
    env = bot_env(
        codegen,
        slack_server,
        tmp_path / "bot.db",
        codegen_slack_poll_seconds=0.1,
        codegen_creates_per_minute=NO_LIMIT,
        codegen_calls_per_30s=NO_LIMIT,
        codegen_log_calls_per_minute=NO_LIMIT,
    )
    app = SubprocessApp(env, tmp_path)
    yield app
    app.stop()


def deliver(send: Callable[[], httpx.Response]) -> None:
    """Send one Slack request until the bot acknowledges it, as Slack retries an unanswered event."""
    while True:
        try:
            if send().status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)


@dataclass
class Flow:
    """One person's run: started by a slash command or a mention, followed up once, finished twice.

    With `busy_reply` the follow-up comes while the run works (so it is held, then passed on);
    otherwise after the first result is in the thread.
    """

    number: int
    by_mention: bool
    busy_reply: bool
    stage: str = "new"
    key: str = ""
    run_id: int = 0
    thread_ts: str = ""
    reply_ts: str = ""

    @property
    def reply_text(self) -> str:
        return f"follow-up number {self.number}"


class Workload:
    """Moves every flow forward as far as what Slack and Codegen show allows."""

    def __init__(self, bot: SubprocessApp, slack: SlackServer, codegen: CodegenServer) -> None:
        self.bot, self.slack, self.codegen = bot, slack, codegen
        self.flows = [Flow(n, by_mention=n % 2 == 1, busy_reply=n % 4 < 2) for n in range(FLOWS)]

    def step(self, started: int) -> None:
        for flow in self.flows[:started]:
            getattr(self, f"_{flow.stage}")(flow)

    def check_nothing_twice(self) -> None:
        """Fail at once when a run was made twice or a follow-up sent twice."""
        runs = self.codegen.runs()
        keys = Counter(run["metadata"][IDEMPOTENCY_KEY] for run in runs)
        assert set(keys.values()) <= {1}, f"runs made twice: {keys}"
        for run in runs:
            resumes = self.codegen.run_inputs(run["id"])["resumes"]
            assert len(resumes) <= 1, f"run {run['id']} resumed {len(resumes)} times"

    def done(self) -> bool:
        return all(flow.stage == "done" for flow in self.flows)

    def thread(self, flow: Flow) -> list[dict[str, Any]]:
        return bot_messages(self.slack, flow.thread_ts)

    def _new(self, flow: Flow) -> None:
        if flow.by_mention:
            text = f"<@{BOT}> task number {flow.number}"
            ts = self.slack.post_as_user(GENERAL, ALICE, text)
            event = {"type": "app_mention", "channel": GENERAL, "user": ALICE, "text": text, "ts": ts}
            flow.key, flow.thread_ts = f"message:{GENERAL}:{ts}", ts
            deliver(lambda: self.bot.event(event, event_id=f"EvMention{flow.number}"))
        else:
            trigger = f"trigger-crash-{flow.number}"
            flow.key = f"command:{trigger}"
            deliver(lambda: self.bot.command(f"task number {flow.number}", trigger_id=trigger))
        flow.stage = "creating"

    def _creating(self, flow: Flow) -> None:
        for run in self.codegen.runs():
            metadata = run["metadata"] or {}
            if metadata.get(IDEMPOTENCY_KEY) == flow.key:
                flow.run_id, flow.thread_ts = run["id"], metadata["slack_thread_ts"]
                flow.stage = "starting"

    def _starting(self, flow: Flow) -> None:
        shown = bot_messages(self.slack) if not flow.by_mention else self.thread(flow)
        if not any(p["run_id"] == flow.run_id for p in payloads(shown, STATUS_EVENT)):
            return  # the thread leads to the run only once the status message shows it
        if flow.busy_reply:
            self._reply(flow)
            flow.stage = "held"
        else:
            self.codegen.set_status(flow.run_id, "COMPLETE", result=f"First pass of {flow.number}.")
            flow.stage = "first_result"

    def _held(self, flow: Flow) -> None:
        if payloads(self.thread(flow), NOTICE_EVENT):
            self.codegen.set_status(flow.run_id, "COMPLETE", result=f"First pass of {flow.number}.")
            flow.stage = "first_result"

    def _first_result(self, flow: Flow) -> None:
        if self._announced(flow, 1):
            if not flow.busy_reply:
                self._reply(flow)
            flow.stage = "resuming"

    def _resuming(self, flow: Flow) -> None:
        if (
            self.codegen.run_inputs(flow.run_id)["resumes"]
            and self.codegen.run(flow.run_id)["status"] == "ACTIVE"
        ):
            self.codegen.set_status(flow.run_id, "COMPLETE", result=f"Second pass of {flow.number}.")
            flow.stage = "second_result"

    def _second_result(self, flow: Flow) -> None:
        if self._announced(flow, 2):
            flow.stage = "done"

    def _done(self, flow: Flow) -> None:
        pass

    def _announced(self, flow: Flow, finish: int) -> bool:
        return any(p.get("finish") == finish for p in payloads(self.thread(flow), RESULT_EVENT))

    def _reply(self, flow: Flow) -> None:
        flow.reply_ts = self.slack.post_as_user(GENERAL, BOB, flow.reply_text, thread_ts=flow.thread_ts)
        event = {
            "type": "message",
            "channel": GENERAL,
            "channel_type": "channel",
            "user": BOB,
            "text": flow.reply_text,
            "ts": flow.reply_ts,
            "thread_ts": flow.thread_ts,
        }
        deliver(lambda: self.bot.event(event, event_id=f"EvReply{flow.number}"))


class Killer(threading.Thread):
    """Kills the bot with SIGKILL at random moments after it answers, and starts it again."""

    def __init__(self, bot: SubprocessApp) -> None:
        super().__init__(name="killer", daemon=True)
        self.bot = bot
        self.kills = 0
        self.error: BaseException | None = None
        self._rng = random.Random(SEED)

    def run(self) -> None:
        try:
            for _ in range(KILLS):
                time.sleep(self._rng.uniform(0.0, 0.6))
                self.bot.kill()
                self.kills += 1
                self.bot.start()
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_sigkill_at_random_moments_loses_and_repeats_nothing(
    bot: SubprocessApp, slack_server: SlackServer, codegen: CodegenServer, tmp_path: Path
) -> None:
    workload = Workload(bot, slack_server, codegen)
    for call in ("create_run", "resume_run"):  # done at once, answered later: a kill may fall between
        codegen.delay_next(NO_LIMIT, ANSWER_DELAY_SECONDS, path=call)
    bot.start()
    killer = Killer(bot)
    killer.start()
    deadline = time.monotonic() + 100
    while not (workload.done() and not killer.is_alive()):
        assert killer.error is None, killer.error
        assert time.monotonic() < deadline, [(f.number, f.stage) for f in workload.flows]
        workload.check_nothing_twice()
        workload.step(started=1 + killer.kills * FLOWS // KILLS)
        time.sleep(0.05)
    assert killer.kills == KILLS

    # One more start, so whatever a restart would redo gets its chance to show, then a clean stop.
    bot.kill()
    bot.start()
    time.sleep(0.5)
    assert bot.terminate() == 0

    flows = workload.flows
    runs = codegen.runs()
    assert sorted(r["metadata"][IDEMPOTENCY_KEY] for r in runs) == sorted(f.key for f in flows)
    assert len(bot_messages(slack_server)) == sum(not f.by_mention for f in flows)
    store = Store(str(tmp_path / "bot.db"))
    for flow in flows:
        assert codegen.run_inputs(flow.run_id)["resumes"] == [{"prompt": flow.reply_text, "images": None}]
        thread = workload.thread(flow)
        results = Counter((p["finish"], p["part"]) for p in payloads(thread, RESULT_EVENT))
        assert {finish for finish, _ in results} == {1, 2} and set(results.values()) == {1}, results
        notices = Counter(p["notice"] for p in payloads(thread, NOTICE_EVENT))
        assert notices == (Counter({HELD: 1, DELIVERED: 1}) if flow.busy_reply else Counter())
        if flow.by_mention:
            assert len(payloads(thread, STATUS_EVENT)) == 1
        assert RECEIVED_REACTION in slack_server.message(GENERAL, flow.reply_ts)["reactions"]
        mapped = store.run_for_thread(GENERAL, flow.thread_ts)
        assert mapped is not None and mapped.run_id == flow.run_id
    store.close()


def test_sigterm_lets_inflight_work_finish_and_exits_cleanly(
    bot: SubprocessApp, slack_server: SlackServer, codegen: CodegenServer, tmp_path: Path
) -> None:
    bot.start()
    codegen.delay_next(1, 1.5, path="create_run")  # made at once, answered 1.5 s later
    deliver(lambda: bot.command("slow to start", trigger_id="trigger-drain"))
    wait_for(codegen.runs, what="the create to reach Codegen")
    assert codegen.count(path="create_run") == 0  # its answer is still on the way
    assert bot.terminate(timeout=10) == 0
    runs = codegen.runs()
    assert len(runs) == 1
    store = Store(str(tmp_path / "bot.db"))
    run = store.run_for_thread(GENERAL, runs[0]["metadata"]["slack_thread_ts"])
    store.close()
    assert run is not None and run.run_id == runs[0]["id"]
    assert "stopped" in bot.output()


def test_sigterm_answers_every_request_it_already_received(
    bot: SubprocessApp, codegen: CodegenServer, tmp_path: Path
) -> None:
    bot.start()
    answers: list[int | str] = []

    def send(n: int) -> None:
        try:
            answers.append(bot.command(f"task {n}", trigger_id=f"trigger-term-{n}").status_code)
        except httpx.HTTPError as exc:  # refused, or cut off: the sender knows it failed
            answers.append(type(exc).__name__)

    senders = [threading.Thread(target=send, args=(n,)) for n in range(25)]
    for sender in senders:
        sender.start()
    wait_for(lambda: len(answers) >= 5, what="the first answers")
    assert bot.terminate(timeout=20) == 0
    for sender in senders:
        sender.join(10)
    assert len(answers) == 25 and answers.count(200) >= 5, answers
    store = Store(str(tmp_path / "bot.db"))
    waiting = store.count_pending().get("create", 0)  # recorded: they run at the next start
    store.close()
    # Each command that was recorded was answered: none is done without its sender hearing of it
    # (Slack would show dispatch_failed, and the person send it again).
    assert len(codegen.runs()) + waiting == answers.count(200), answers
