"""Chaos: the real bot (in fake time, against the Codegen and Slack test servers) runs 20 runs through
every kind of job while faults are injected into each kind: one permanent failure and three
transient ones. Every other effect still happens, each permanently failing job ends dead with one
notice to its person (where it has one), and nothing is announced twice."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.app import Bot
from bot.codegen import AccessDenied, CodegenUnavailable
from bot.render.results import RESULT_EVENT
from storage.job_kinds import PRIORITY, REPLY, REPOS
from storage.records import Job, JobStatus
from tests.fakeclock import FakeClock
from tests.harness import make_settings
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_fixtures import ALICE, BOB, start_slack_server
from tests.servers.slack_server import SlackServer

RUNS = 20
CHANNELS = [f"C0CHAOS{n}" for n in range(4)]
TRANSIENT_PER_KIND = 3


def slack_failure(error: str) -> SlackApiError:
    response = SlackResponse(
        client=None, http_verb="POST", api_url="", req_args={}, data={"ok": False, "error": error},
        headers={}, status_code=200,
    )  # fmt: skip
    return SlackApiError(error, response)


class Faults:
    """Wraps each kind's handler: the first job of a kind fails for good, the next three fail once
    with a transient error, alternating Codegen's and Slack's."""

    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = defaultdict(list)
        self.permanent: dict[str, str] = {}
        self.transient: dict[str, list[str]] = defaultdict(list)

    def wrap(self, kind: str, handle: Callable[[Job], object]) -> Callable[[Job], object]:
        def faulty(job: Job) -> object:
            if job.key not in self.seen[kind]:
                self.seen[kind].append(job.key)
                order = len(self.seen[kind])
                if order == 1:
                    self.permanent[kind] = job.key
                elif order <= 1 + TRANSIENT_PER_KIND:
                    self.transient[kind].append(job.key)
                    raise (
                        CodegenUnavailable(status_code=503) if order % 2 else slack_failure("internal_error")
                    )
            if self.permanent.get(kind) == job.key:
                raise AccessDenied(status_code=403) if kind != "notice" else slack_failure("missing_scope")
            return handle(job)

        return faulty


@pytest.fixture
def chaos(
    codegen_server: CodegenServer, tmp_path: Path
) -> Iterator[tuple[Bot, Faults, SlackServer, FakeClock]]:
    clock = codegen_server.clock
    assert isinstance(clock, FakeClock)
    codegen_server.add_repo("acme/web")
    with start_slack_server(clock) as slack:
        for channel in CHANNELS:
            slack.add_channel(channel, name=channel.lower(), members=[ALICE, BOB])
        settings = make_settings(codegen_server, slack, tmp_path / "bot.db", codegen_slack_poll_seconds=5.0)
        bot = Bot(settings, clock=clock)
        faults = Faults()
        for kind in bot.runner._kinds.values():  # every kind the bot runs
            bot.runner._kinds[kind.name] = replace(kind, handle=faults.wrap(kind.name, kind.handle))
        bot.store.arm_job("housekeeping", "housekeeping", now=clock.now(), priority=PRIORITY["housekeeping"])
        yield bot, faults, slack, clock
        bot.codegen.close()
        bot.store.close()


def test_every_kind_of_job_survives_injected_faults(chaos, codegen_server: CodegenServer) -> None:
    bot, faults, slack, clock = chaos
    store = bot.store
    png = slack.add_file("screen.png", b"\x89PNG fake", "image/png")
    for n in range(RUNS):
        store.add_request(
            key=f"command:{n}", kind="create", channel=CHANNELS[n % 4], user=(ALICE, BOB)[n % 2],
            prompt=f"task {n}", now=clock.now(), options={"files": [dict(png, url=png["url_private"])]}
            if n < 5 else {}, state="fetching" if n < 5 else "pending",
        )  # fmt: skip
    store.home_opened(ALICE, clock.now())
    for n in range(5):
        say = {"channel": CHANNELS[0], "user": ALICE, "text": f"note {n}", "thread_ts": None}
        store.add_job(REPLY, f"{REPLY}:chaos:{n}", now=clock.now(), priority=PRIORITY[REPLY], payload=say)
        store.add_job(REPOS, f"{REPOS}:chaos:{n}", now=clock.now(), priority=PRIORITY[REPOS], payload={})

    followed: set[int] = set()
    born: dict[int, float] = {}
    for _ in range(6000):
        bot.leadership.step()  # what its thread does every 2 s: the only process leads throughout
        waits = [bot.runner.drain(), bot.watcher.step()]
        for record in codegen_server.runs():
            run_id = record["id"]
            born.setdefault(run_id, clock.now())
            if record["status"] == "ACTIVE" and clock.now() - born[run_id] > 90:
                codegen_server.add_log(run_id, tool_name="run_command", tool_input={"command": "pytest"})
                codegen_server.set_status(run_id, "COMPLETE", result=f"Done with run {run_id}.")
                born[run_id] = clock.now()
            run = store.get_run(run_id)
            if run and run.finished and not store.announcement_due(run_id) and run_id not in followed:
                followed.add(run_id)
                if len(followed) <= 6:  # a follow-up in its thread, and a "Show steps" click
                    for kind, prompt in (("resume", "and the docs"), ("steps", "")):
                        store.add_request(
                            key=f"{kind}:{run_id}", kind=kind, channel=run.channel, user=run.requester,
                            prompt=prompt, now=clock.now(), thread_ts=run.thread_ts, run_id=run_id,
                        )  # fmt: skip
        open_jobs = store.jobs_in((JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.RUNNING), limit=10_000)
        pending = [j for j in open_jobs if j.kind not in ("progress", "refresh", "housekeeping", "queue")]
        # Three runs cannot finish their course: the create and the images that failed for good, and
        # the run whose announcement did.
        if not pending and len(followed) >= RUNS - 3 and clock.now() > 1_800_000_000 + 600:
            break
        clock.advance(min([w for w in waits if w is not None] + [1.0]))

    dead = store.jobs_in((JobStatus.DEAD,), limit=1000)
    assert sorted((j.kind, j.key) for j in dead) == sorted(faults.permanent.items())
    assert set(faults.permanent) >= {"create", "images", "resume", "steps", "announce", "card", "home",
                                     "reply", "repos", "progress", "notice", "housekeeping"}  # fmt: skip
    for kind, keys in faults.transient.items():
        for key in keys:  # retried after its one failure, and then done (or, recurring, due again)
            job = next(j for j in store.jobs_in(tuple(JobStatus), limit=10_000) if j.key == key)
            assert job.status in (JobStatus.DONE, JobStatus.QUEUED), (kind, key, job)

    notices = [j for j in store.jobs_in(tuple(JobStatus), limit=10_000) if j.kind == "notice"]
    told = Counter(j.key for j in notices)
    with_person = [j for j in dead if j.kind in ("create", "images", "resume", "steps", "announce")]
    assert sorted(told) == sorted(f"notice:{j.id}" for j in with_person) and set(told.values()) == {1}

    # Every run but those whose create or images failed for good exists; each finish is announced once.
    assert len(codegen_server.runs()) == RUNS - 2
    results: Counter[tuple[int, int, int]] = Counter()
    for channel in CHANNELS:
        for top in slack.messages(channel):
            for message in slack.messages(channel, thread_ts=top["ts"]):
                meta = message.get("metadata") or {}
                if meta.get("event_type") == RESULT_EVENT:
                    p = meta["event_payload"]
                    results[(p["run_id"], p["finish"], p["part"])] += 1
    assert results and set(results.values()) == {1}
    announced = {run_id for run_id, _, _ in results}
    failed_announce = store.get_job(next(j.id for j in dead if j.kind == "announce"))
    assert failed_announce is not None
    assert announced == {r["id"] for r in codegen_server.runs()} - {failed_announce.run_id}
    metrics = bot.metrics.render().decode()
    for kind in faults.permanent:
        assert f'codegen_slack_dead_jobs_total{{kind="{kind}"}} ' in metrics  # (armed again, dead again)
        assert f'codegen_slack_jobs{{kind="{kind}",status="dead"}} 1.0' in metrics
