"""A limit that replicas on one database count against together (users.info, asked before the ack on
whichever replica got the request): the calls of all processes together stay inside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.shared_limit import SharedWindow
from bot.slack_limits import SlackLimits
from bot.user_names import USERS_INFO
from storage.store import Store
from tests.fakeclock import FakeClock

LIMIT, WINDOW = 3, 60.0


@pytest.fixture
def replicas(db_target: str) -> Iterator[list[Store]]:
    """Two processes' stores on one database."""
    stores = [Store(db_target), Store(db_target)]
    yield stores
    for store in stores:
        store.close()


def test_calls_of_all_replicas_together_stay_inside_the_limit(replicas: list[Store]) -> None:
    clock = FakeClock()
    first, second = (SharedWindow(store, USERS_INFO, LIMIT, WINDOW, clock) for store in replicas)
    for window in (first, second, first):
        assert window.wait_time() == 0.0
        with window.slot():
            clock.advance(1.0)  # the call takes a second; its slot counts from its end
    assert first.wait_time() == second.wait_time() == pytest.approx(WINDOW - 2.0)
    with second.slot():  # waits (on the clock) for the first call's slot to leave the window
        pass
    assert clock.slept == [pytest.approx(WINDOW - 2.0)]
    clock.advance(WINDOW)
    assert first.wait_time() == 0.0


def test_a_shared_method_is_left_out_of_the_windows_the_leader_hands_over(replicas: list[Store]) -> None:
    clock = FakeClock()
    shared = SharedWindow(replicas[0], USERS_INFO, LIMIT, WINDOW, clock)
    limits = SlackLimits(clock, shared={USERS_INFO: shared})
    assert limits.limiter(USERS_INFO) is shared
    assert USERS_INFO not in limits.windows() and limits.window(USERS_INFO) is None
    assert USERS_INFO in SlackLimits(clock).windows()
