"""The job runner in fake time, on a real database: outcomes recorded in one place, failures isolated,
dead jobs told once and listed for operators, crashed work taken again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot import cli
from bot.codegen import CodegenUnavailable, InvalidRequest
from bot.jobs import Again, Dead, Defer, Done, JobKind, Outcome, RetryPolicy, Runner
from storage.jobs import NOTICE_KIND
from storage.records import Job, JobStatus, RunRecord
from storage.store import Store
from tests.fakeclock import FakeClock


@pytest.fixture
def store(db_target: str) -> Iterator[Store]:
    opened = Store(db_target)
    yield opened
    opened.close()


def recording(done: list[str], fail: Callable[[Job], Outcome | None] = lambda job: None) -> Callable:
    """A handler that records each job it finishes, after `fail` had its say."""

    def handle(job: Job) -> Outcome | None:
        outcome = fail(job)
        if outcome is None:
            done.append(job.key)
        return outcome

    return handle


def told(store: Store) -> list[dict]:
    """The payloads of the notices that dead jobs left for their people."""
    return [job.payload for job in store.jobs_in((JobStatus.QUEUED,)) if job.kind == NOTICE_KIND]


def test_a_failing_job_never_holds_up_the_others_and_its_person_is_told_once(store: Store) -> None:
    clock, done = FakeClock(), []

    def fail(job: Job) -> Outcome | None:
        if job.key == "work:bad":
            raise AttributeError("'NoneType' object has no attribute 'title'")  # a bug in the bot
        return None

    notice = lambda job, reason: {"user": "U0ALICE", "text": f"Couldn't: {reason}"}  # noqa: E731
    runner = Runner(store, clock, [JobKind("work", recording(done, fail), notice=notice)])
    for key in ("work:a", "work:bad", "work:b"):
        store.arm_job("work", key, now=clock.now())
    for _ in range(20):
        clock.advance(runner.drain() or 60)
    assert done == ["work:a", "work:b"]  # the others went first, and were not held up
    (dead,) = store.jobs_in((JobStatus.DEAD,))
    assert dead.key == "work:bad" and dead.attempts == 3 and "AttributeError" in (dead.last_error or "")
    assert [n["text"] for n in told(store)] == [f"Couldn't: {dead.last_error}"]


def test_transient_failures_are_retried_with_the_kinds_backoff_and_permanent_ones_are_not(
    store: Store,
) -> None:
    clock, done, tries = FakeClock(), [], {"flaky": 0, "refused": 0}

    def fail(job: Job) -> Outcome | None:
        name = job.key.split(":")[1]
        tries[name] += 1
        if name == "flaky" and tries[name] <= 3:
            raise CodegenUnavailable(status_code=503)
        if name == "refused":
            raise InvalidRequest(errors=[{"loc": ["body", "prompt"], "msg": "too long"}])
        return None

    policy = RetryPolicy(max_attempts=5, base_seconds=10, max_seconds=30)
    runner = Runner(store, clock, [JobKind("work", recording(done, fail), policy=policy)])
    store.arm_job("work", "work:flaky", now=clock.now())
    store.arm_job("work", "work:refused", now=clock.now())
    waits = []
    while (wait := runner.drain()) is not None:
        waits.append(round(wait))
        clock.advance(wait)
    assert done == ["work:flaky"] and tries == {"flaky": 4, "refused": 1}
    assert waits == [10, 20, 30]  # 10 s doubling, at most 30 s
    (dead,) = store.jobs_in((JobStatus.DEAD,))
    assert "prompt: too long" in (dead.last_error or "")


def test_a_job_that_keeps_failing_ends_dead_after_its_attempts(store: Store) -> None:
    clock = FakeClock()

    def always_down(job: Job) -> Outcome:
        raise CodegenUnavailable(status_code=502)

    runner = Runner(store, clock, [JobKind("work", always_down, policy=RetryPolicy(max_attempts=4))])
    store.arm_job("work", "work:1", now=clock.now())
    while (wait := runner.drain()) is not None:
        clock.advance(wait)
    (dead,) = store.jobs_in((JobStatus.DEAD,))
    assert dead.attempts == 4


def test_a_full_limit_defers_only_the_jobs_that_wait_on_it(store: Store) -> None:
    clock, done = FakeClock(), []

    def posting(job: Job) -> Outcome | None:
        channel = job.payload["channel"]
        if channel == "C0BUSY" and clock.now() < 1_800_000_010:
            return Defer(10, f"post:{channel}")
        done.append(job.key)
        return None

    runner = Runner(store, clock, [JobKind("post", posting)])
    for n, channel in enumerate(["C0BUSY", "C0BUSY", "C0CALM", "C0BUSY", "C0CALM"]):
        store.arm_job(
            "post", f"post:{n}", now=clock.now(), resource=f"post:{channel}", payload={"channel": channel}
        )
    assert runner.drain() == pytest.approx(10)
    assert done == ["post:2", "post:4"]  # the busy channel was tried once, then passed over
    assert all(job.attempts == 0 for job in store.jobs_in((JobStatus.QUEUED,)))  # a deferral is no failure
    clock.advance(10)
    runner.drain()
    assert done == ["post:2", "post:4", "post:0", "post:1", "post:3"]


def test_exclusive_kinds_run_one_at_a_time_and_a_closed_gate_is_not_claimed(store: Store) -> None:
    clock, done = FakeClock(), []
    room = {"creates": 1}

    def create(job: Job) -> None:
        room["creates"] -= 1
        done.append(job.key)

    kinds = [JobKind("create", create, gate=lambda: 0.0 if room["creates"] > 0 else 60.0, exclusive=True)]
    runner = Runner(store, clock, kinds)
    for n in range(3):
        store.arm_job("create", f"create:{n}", now=clock.now())
    assert runner.drain() == pytest.approx(60.0) and done == ["create:0"]
    room["creates"] = 2
    runner.drain()
    assert done == ["create:0", "create:1", "create:2"]  # first come, first served
    assert (
        store.claim(clock.now(), kinds=["create"], blocked=[], exclusive=["create"], lease_seconds=5) is None
    )


def test_work_cut_off_by_a_crash_is_taken_again(store: Store) -> None:
    clock, done = FakeClock(), []
    store.arm_job("work", "work:1", now=clock.now())
    claimed = store.claim(
        clock.now(), kinds=["work"], blocked=[], exclusive=[], lease_seconds=900, owner="old"
    )
    assert claimed is not None  # ... and the process died while running it
    runner = Runner(store, clock, [JobKind("work", recording(done))], owner="new")
    assert store.release_jobs_of_others("new", clock.now()) == 1  # what the next leader does first
    runner.drain()
    assert done == ["work:1"]
    assert not store.finish(claimed, JobStatus.DONE, now=clock.now(), owner="old")  # too late: not its job


def test_a_process_that_does_not_lead_runs_nothing_and_waits_until_it_leads(store: Store) -> None:
    clock, done, leading = FakeClock(), [], [False]
    runner = Runner(store, clock, [JobKind("work", recording(done))], leading=lambda: leading[0])
    store.arm_job("work", "work:1", now=clock.now())
    assert runner.drain() is None  # a due job is the leader's: nothing to wait for but being woken
    assert done == []
    leading[0] = True  # it became leader (Bot._lead wakes the runner)
    assert runner.drain() is None
    assert done == ["work:1"]


def test_rearming_a_running_job_runs_it_again_after(store: Store) -> None:
    clock, runs = FakeClock(), []

    def show(job: Job) -> None:
        runs.append(job.key)
        if len(runs) == 1:  # a change arrives while the card is being edited
            store.arm_job("card", job.key, now=clock.now())

    runner = Runner(store, clock, [JobKind("card", show)])
    store.arm_job("card", "card:7", now=clock.now())
    runner.drain()
    assert runs == ["card:7", "card:7"]


def test_operators_list_dead_jobs_and_run_one_again(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock(start=time.time())
    outcomes: list[Outcome] = [Dead("Codegen refused access to the organization."), Done()]
    runner = Runner(store, clock, [JobKind("create", lambda job: outcomes.pop(0))])
    store.arm_job("create", "create:1", now=clock.now())
    runner.drain()
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "CODEGEN_API_TOKEN": "t",
        "CODEGEN_ORG_ID": "1",
        "CODEGEN_SLACK_DB": store.path,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["jobs"]) == 0
    listing = capsys.readouterr().out
    (dead,) = store.jobs_in((JobStatus.DEAD,))
    row = next(line for line in listing.splitlines() if line.startswith(f"{dead.id} "))
    assert row.split()[:4] == [str(dead.id), "create", "dead", "1"] and "Codegen refused access" in row
    assert cli.main(["jobs", "retry", "999"]) == 1
    assert "No dead or retrying job has id 999" in capsys.readouterr().out
    assert cli.main(["jobs", "retry", str(dead.id)]) == 0
    clock.advance(60)  # the CLI queued it on the real clock, which this runner's clock follows
    runner.drain()
    assert store.get_job(dead.id).status == JobStatus.DONE  # type: ignore[union-attr]
    assert cli.main(["jobs"]) == 0 and "No dead or retrying jobs." in capsys.readouterr().out
    monkeypatch.setenv("CODEGEN_SLACK_DB", str(tmp_path / "typo.db"))
    assert cli.main(["jobs"]) == 2 and "There is no database at" in capsys.readouterr().out
    assert not (tmp_path / "typo.db").exists()  # nothing made up in its place


def test_a_wake_that_comes_while_a_waiting_job_runs_is_not_lost(store: Store) -> None:
    clock, tries = FakeClock(), []
    request = store.add_request(key="reply:1", kind="resume", channel="C0GENERAL", user="U0ALICE",
                                prompt="and the docs", now=clock.now(), run_id=7)  # fmt: skip
    assert request is not None

    def wait_for_the_result(job: Job) -> Outcome | None:
        tries.append(clock.now())
        if len(tries) == 1:  # the result is posted (and the follow-up woken) just as this one looks
            store.add_run(RunRecord(run_id=7, channel="C0GENERAL", thread_ts="1.0", requester="U0ALICE",
                                    prompt="p", status="COMPLETE", created_at=clock.now()))  # fmt: skip
            store.mark_announced(7, 1, clock.now())
            return Again(60)
        return None

    runner = Runner(store, clock, [JobKind("resume", wait_for_the_result)])
    runner.drain()
    assert tries == [clock.now(), clock.now()]  # looked again at once, not a minute later
