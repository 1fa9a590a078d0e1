"""The watcher in fake time against the Codegen test server: which runs a sweep refreshes, how deep
it pages, when it fetches runs one by one, how it keeps to its share of the limit, and backoff."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from bot.codegen import CodegenClient, RateLimits
from bot.watcher import Watcher, plan_sweep
from storage.records import RunRecord
from storage.store import Store
from tests.fakeclock import FakeClock
from tests.servers.codegen_server import CodegenServer

POLL_SECONDS = 5.0


@dataclass
class Rig:
    server: CodegenServer
    clock: FakeClock
    store: Store
    limits: RateLimits
    client: CodegenClient
    changes: list[int] = field(default_factory=list)
    watcher: Watcher | None = None

    def make_watcher(self, share: float = 0.8) -> Watcher:
        self.watcher = Watcher(
            store=self.store,
            codegen=self.client,
            clock=self.clock,
            poll_seconds=POLL_SECONDS,
            share=share,
            on_change=self.changes.append,
        )
        return self.watcher

    def add_runs(self, count: int, *, status: str = "ACTIVE", quiet_for: float = 3600) -> list[int]:
        """Runs that exist in Codegen and in storage, newest last, created `quiet_for` seconds ago
        (by default long enough that they are checked only every twice POLL_SECONDS)."""
        ids = []
        created = self.clock.now() - quiet_for
        for n in range(count):
            run = self.server.add_run(status=status, prompt=f"task {n}")
            record = RunRecord(
                run_id=run["id"], channel="C1", thread_ts=f"{run['id']}.000100", requester="U1",
                prompt=f"task {n}", status=status, web_url=run["web_url"], created_at=created,
                changed_at=created,
            )
            self.store.add_run(record)
            ids.append(run["id"])
        return ids

    def finish(self, run_ids: list[int]) -> None:
        """Finish runs in Codegen and in storage alike (as if seen finished long ago)."""
        for run_id in run_ids:
            self.server.set_status(run_id, "COMPLETE", result="done")
            now = self.clock.now()
            self.store.record_check(run_id, now=now, next_check_at=0, status="COMPLETE", result="done")

    def run_for(self, seconds: float, after_step=None) -> None:
        """Step the watcher as its Worker would, advancing fake time by the delays it asks for."""
        assert self.watcher is not None
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            delay = self.watcher.step()
            if after_step:
                after_step()
            self.clock.advance(min(end - self.clock.now(), 1.0 if delay is None else max(delay, 0.001)))

    def first_sweep(self) -> None:
        """Steps until the first sweep is done (calls go 0.625 s apart; quiet runs are due after 10 s)."""
        self.run_for(5)

    def calls(self, route: str) -> int:
        return self.server.count(path=route)


@pytest.fixture
def rig(codegen_server: CodegenServer, db_target: str) -> Iterator[Rig]:
    clock = codegen_server.clock
    assert isinstance(clock, FakeClock)
    limits = RateLimits.from_counts(clock=clock)
    client = CodegenClient(
        base_url=codegen_server.url, token=codegen_server.token, org_id=codegen_server.org_id,
        limits=limits, clock=clock,
    )
    store = Store(db_target)
    yield Rig(codegen_server, clock, store, limits, client)
    client.close()
    store.close()


def test_plan_pages_down_to_the_deepest_due_run_unless_single_gets_are_cheaper() -> None:
    assert plan_sweep({1: 0, 2: 40, 3: 99}, [0, 40, 99]).pages == 1
    assert plan_sweep({1: 5, 2: 150, 3: 250}, []).pages == 0  # each plan costs three calls; GETs refresh most
    many = {n: n for n in range(250)}
    assert plan_sweep(many, list(many.values())).pages == 3
    lone_old = {**{n: n for n in range(30)}, 999: 950}
    assert plan_sweep(lone_old, list(lone_old.values())) == plan_sweep(lone_old, [])
    assert plan_sweep(lone_old, []).pages == 1 and plan_sweep(lone_old, []).singles == (999,)


def test_plan_prefers_a_page_that_also_refreshes_other_working_runs() -> None:
    assert plan_sweep({7: 3}, [3]).pages == 0  # one run alone: one GET
    assert plan_sweep({7: 3}, [0, 1, 2, 3, 50]).pages == 1  # same cost, four more runs refreshed


def test_one_list_call_refreshes_every_run_on_the_page(rig: Rig) -> None:
    ids = rig.add_runs(80)
    rig.make_watcher()
    rig.first_sweep()
    assert (rig.calls("list_runs"), rig.calls("get_run"), rig.calls("me")) == (1, 0, 1)
    checked = {rig.store.get_run(run_id).checked_at for run_id in ids}
    assert len(checked) == 1 and checked.pop() > 0


def test_paging_stops_at_the_oldest_working_run(rig: Rig) -> None:
    old = rig.add_runs(130)
    rig.add_runs(120)
    rig.finish(old)
    rig.make_watcher()
    rig.first_sweep()
    assert (rig.calls("list_runs"), rig.calls("get_run")) == (2, 0)  # 120 working runs: two pages, not three


def test_a_lone_old_run_far_down_the_list_is_fetched_by_itself(rig: Rig) -> None:
    oldest = rig.add_runs(1)
    middle = rig.add_runs(400)
    rig.add_runs(20)
    rig.finish(middle)
    rig.make_watcher()
    rig.first_sweep()
    assert (rig.calls("list_runs"), rig.calls("get_run")) == (1, 1)
    assert rig.server.calls[-1].path.endswith(f"/agent/run/{oldest[0]}")


def test_a_single_run_is_fetched_with_one_get(rig: Rig) -> None:
    rig.add_runs(1)
    rig.make_watcher()
    rig.first_sweep()
    assert (rig.calls("list_runs"), rig.calls("get_run"), rig.calls("me")) == (0, 1, 0)


def test_a_run_the_list_does_not_show_is_fetched_by_itself(rig: Rig) -> None:
    other = rig.server.add_user(full_name="Someone Else")
    hidden = rig.server.add_run(status="ACTIVE", user_id=other["id"])
    rig.store.add_run(
        RunRecord(run_id=hidden["id"], channel="C1", thread_ts="1.0", requester="U1", prompt="p",
                  web_url=hidden["web_url"])
    )
    rig.add_runs(30)
    rig.make_watcher()
    rig.first_sweep()
    assert (rig.calls("list_runs"), rig.calls("get_run")) == (1, 1)
    rig.clock.advance(10)
    rig.first_sweep()
    assert (rig.calls("list_runs"), rig.calls("get_run")) == (2, 2)  # no more paging to look for it


@pytest.mark.parametrize("share", [0.8, 0.5])
def test_many_runs_use_the_share_evenly_and_leave_the_rest_free(rig: Rig, share: float) -> None:
    rig.add_runs(300, quiet_for=0)
    rig.make_watcher(share)
    capacity = int(share * 60)
    always_room: list[bool] = []
    rig.run_for(75, after_step=lambda: always_room.append(rig.limits.standard.wait_time() == 0))
    stamps = [c.at for c in rig.server.calls]
    busiest = max(sum(1 for t in stamps if start <= t < start + 30) for start in stamps)
    assert rig.server.count(status=429) == 0
    assert busiest <= capacity
    assert len(stamps) >= 0.9 * capacity / 30 * 75  # the whole share is used: no stalls
    assert all(always_room)  # a command or a resume never has to wait for the watcher
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) < 2 * 30 / capacity  # paced evenly, not in bursts followed by a wait


def test_quiet_runs_back_off_and_a_change_brings_them_back(rig: Rig) -> None:
    (run_id,) = rig.add_runs(1, quiet_for=3600)
    rig.make_watcher()
    rig.run_for(60)
    assert rig.calls("get_run") <= 7  # quiet for an hour: every twice poll_seconds
    rig.server.set_status(run_id, "RUNNING")
    rig.run_for(11)
    before = rig.calls("get_run")
    rig.run_for(10)
    assert rig.calls("get_run") - before >= 8  # just changed: about every second
    assert rig.changes == [run_id]


def test_new_runs_are_checked_more_often_than_long_quiet_ones(rig: Rig) -> None:
    old = rig.add_runs(1, quiet_for=3600)[0]
    rig.finish(rig.add_runs(400))
    new = rig.add_runs(10, quiet_for=0)
    rig.make_watcher()
    rig.run_for(60)
    assert rig.calls("list_runs") >= 50  # the page with the new runs: every second or so
    assert 4 <= rig.calls("get_run") <= 7  # the old one, far down: alone, every 10 s
    assert rig.store.get_run(old).checked_at < rig.store.get_run(new[0]).checked_at


def test_only_a_change_is_reported_and_a_finished_run_is_no_longer_watched(rig: Rig) -> None:
    ids = rig.add_runs(10, quiet_for=0)
    rig.make_watcher()
    rig.run_for(10)
    assert rig.changes == []
    rig.server.add_pull_request(ids[3], title="Fix", url="https://github.com/acme/web/pull/1")
    rig.server.set_status(ids[3], "COMPLETE", result="Fixed it.")
    rig.run_for(10)
    assert rig.changes == [ids[3]]
    run = rig.store.get_run(ids[3])
    assert run.finished and run.result == "Fixed it." and run.pull_requests[0].title == "Fix"
    assert ids[3] not in [r.run_id for r in rig.store.watched_runs()]


def test_a_run_codegen_forgot_is_checked_again_only_after_minutes(rig: Rig) -> None:
    rig.store.add_run(RunRecord(run_id=999_999, channel="C1", thread_ts="1.0", requester="U1", prompt="p"))
    rig.make_watcher()
    rig.run_for(120)
    assert rig.server.count(path="get_run", status=404) == 1


def test_an_outage_pauses_the_watcher_and_it_carries_on_after(rig: Rig) -> None:
    ids = rig.add_runs(5)
    rig.server.fail_next(10, 503, path="list_runs")
    watcher = rig.make_watcher()
    watcher.step()  # who the token belongs to
    rig.clock.advance(1)
    assert watcher.step() == pytest.approx(10.0)  # the list failed five times: wait, don't hammer
    rig.server.set_status(ids[0], "COMPLETE")
    rig.run_for(30)
    assert rig.changes == [ids[0]]
