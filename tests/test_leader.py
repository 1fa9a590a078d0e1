"""The leader's lease on each backend: one leader at a time, a clean hand-over at once, a crashed
leader's lease running out, and its rate-limit windows counted by the next leader."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.codegen.limiter import RateLimits
from bot.leader import LEASE_SECONDS, Leadership, LimitHandoff, crash_margin
from storage.leases import Lease
from storage.store import Store
from tests.fakeclock import FakeClock


@pytest.fixture
def store(db_target: str) -> Iterator[Store]:
    opened = Store(db_target)
    yield opened
    opened.close()


class Replica:
    """One process's leadership, with its own Codegen limiters, on a shared clock and database."""

    def __init__(self, store: Store, clock: FakeClock, name: str) -> None:
        self.limits = RateLimits.from_counts(clock=clock)
        self.leads: list[Lease] = []
        self.leadership = Leadership(
            store,
            clock,
            name,
            LimitHandoff(windows=self.limits.windows, window=lambda n: self.limits.windows().get(n)),
            self.leads.append,
        )


def test_one_leader_at_a_time_and_a_clean_stop_hands_over_at_once(store: Store) -> None:
    clock = FakeClock()
    first, second = Replica(store, clock, "a"), Replica(store, clock, "b")
    first.leadership.step()
    second.leadership.step()
    assert first.leadership.leading and not second.leadership.leading
    for _ in range(5):  # renewals keep it
        clock.advance(LEASE_SECONDS / 2)
        first.leadership.step()
        second.leadership.step()
    assert first.leadership.leading and not second.leadership.leading
    for _ in range(4):
        first.limits.create.acquire()
    first.leadership.stop()
    second.leadership.step()
    assert second.leadership.leading and not first.leadership.leading
    assert second.limits.create.used() == 4  # the creates of the last minute count against the new leader


def test_a_crashed_leaders_lease_runs_out_and_its_successor_keeps_a_margin(store: Store) -> None:
    clock = FakeClock()
    first, second = Replica(store, clock, "a"), Replica(store, clock, "b")
    first.leadership.step()
    for _ in range(3):
        first.limits.standard.acquire()
    first.leadership.step()  # a renewal saves the windows ... and then the process is killed
    clock.advance(LEASE_SECONDS - 1)
    second.leadership.step()
    assert not second.leadership.leading  # not before the lease runs out
    clock.advance(2)
    second.leadership.step()
    assert second.leadership.leading and second.leads[0].previous_owner == "a"
    assert second.limits.standard.used() == 3 + crash_margin(second.limits.standard)
    clock.advance(31)  # Codegen's 30 s window has passed: nothing is counted any more
    assert second.limits.standard.used() == 0


def test_a_deposed_leader_stops_leading_at_its_next_renewal(store: Store) -> None:
    clock = FakeClock()
    first, second = Replica(store, clock, "a"), Replica(store, clock, "b")
    first.leadership.step()
    clock.advance(LEASE_SECONDS + 1)  # "a" paused (a long GC, a frozen VM) past its lease
    second.leadership.step()
    assert second.leadership.leading
    first.leadership.step()
    assert not first.leadership.leading


def test_unreadable_handoff_state_starts_afresh() -> None:
    clock = FakeClock()
    limits = RateLimits.from_counts(clock=clock)
    handoff = LimitHandoff(windows=limits.windows, window=lambda name: limits.windows().get(name))
    handoff.load("{not json", clock.now(), crashed=True)
    handoff.load('{"saved_at": "soon", "ages": {"create": [1]}}', clock.now(), crashed=False)
    assert limits.create.used() == 0
