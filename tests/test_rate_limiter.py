"""The sliding-window limiter keeps callers inside a request budget, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from bot.codegen.limiter import RateLimits, SlidingWindowLimiter
from tests.fakeclock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_acquire_is_free_until_the_limit_then_waits_for_the_oldest_slot(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(3, 60.0, clock)
    start = clock.monotonic()
    for _ in range(3):
        limiter.acquire()
    assert clock.monotonic() == start
    clock.advance(10)
    limiter.acquire()
    assert clock.monotonic() == start + 60
    assert limiter.used() == 1  # the three slots from the start have left the window


def test_window_slides_instead_of_resetting_in_buckets(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(4, 60.0, clock)
    limiter.acquire()
    limiter.acquire()
    clock.advance(30)
    limiter.acquire()
    limiter.acquire()
    assert limiter.wait_time() == 30
    clock.advance(30)
    # Only the two slots from t=0 have left the window; the two from t=30 still count.
    assert limiter.used() == 2
    assert limiter.try_acquire()
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.wait_time() == 30


def test_a_partial_share_leaves_room_for_full_share_callers(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(10, 30.0, clock)
    taken = sum(limiter.try_acquire(share=0.8) for _ in range(20))
    assert taken == 8
    assert limiter.wait_time(share=0.8) == 30
    assert limiter.wait_time(share=1.0) == 0
    assert limiter.try_acquire(share=1.0)
    assert limiter.try_acquire(share=1.0)
    assert not limiter.try_acquire(share=1.0)


def test_a_tiny_share_of_a_tiny_limit_still_gets_one_slot(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(1, 60.0, clock)
    assert limiter.try_acquire(share=0.5)
    assert not limiter.try_acquire(share=0.5)


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5])
def test_share_outside_zero_to_one_is_refused(clock: FakeClock, share: float) -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(10, 60.0, clock).try_acquire(share=share)


def test_penalize_holds_every_slot_until_retry_after_has_passed(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(10, 60.0, clock)
    start = clock.monotonic()
    limiter.penalize(5)
    assert limiter.wait_time() == 5
    assert not limiter.try_acquire()
    limiter.acquire()
    assert clock.monotonic() == start + 5
    limiter.penalize(2)
    limiter.penalize(1)  # a shorter penalty does not cut the longer one short
    assert limiter.wait_time() == 2


def test_a_held_slot_counts_from_when_the_request_ended(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(1, 60.0, clock)
    with limiter.slot():
        assert limiter.used() == 1
        clock.advance(20)  # a slow request: the server may have counted it at any point
    clock.advance(59)
    assert limiter.wait_time() == 1
    clock.advance(1)
    assert limiter.try_acquire()


def test_a_caller_blocked_by_requests_in_flight_gets_the_slot_when_one_ends(
    clock: FakeClock,
) -> None:
    limiter = SlidingWindowLimiter(1, 60.0, clock)
    got_slot = threading.Event()

    def waiter() -> None:
        limiter.acquire()
        got_slot.set()

    with limiter.slot():
        thread = threading.Thread(target=waiter)
        thread.start()
        assert not got_slot.wait(0.05)
    thread.join(timeout=5)
    assert got_slot.is_set()
    # The waiter had to let the finished request's window pass first.
    assert clock.slept == [60.0]


def test_threads_sharing_a_limiter_never_exceed_it_in_any_window(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(5, 60.0, clock)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            with limiter.slot(), lock:
                stamps.append(clock.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(stamps) == 30
    stamps.sort()
    for i, first in enumerate(stamps):
        in_window = [t for t in stamps[i:] if t < first + 60]
        assert len(in_window) <= 5
    assert stamps[-1] - stamps[0] >= 5 * 60


def test_rate_limits_default_to_codegens_documented_limits(clock: FakeClock) -> None:
    limits = RateLimits.from_counts(clock=clock)
    assert (limits.create.limit, limits.create.window) == (10, 60.0)
    assert (limits.standard.limit, limits.standard.window) == (60, 30.0)
    assert (limits.logs.limit, limits.logs.window) == (60, 60.0)
    custom = RateLimits.from_counts(creates_per_minute=3, clock=clock)
    assert sum(custom.create.try_acquire() for _ in range(5)) == 3
