"""pytest fixture for the fake Codegen API: started, on a FakeClock, contract-checked after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.clock import Clock
from tests.fakeclock import FakeClock
from tests.servers.codegen_server import CodegenServer


def make_codegen_server(clock: Clock | None = None, **kw: Any) -> CodegenServer:
    """A started CodegenServer on `clock` (a fresh FakeClock when omitted); stop() it after."""
    return CodegenServer(clock=clock or FakeClock(), **kw).start()


@pytest.fixture
def codegen_server() -> Iterator[CodegenServer]:
    """A running fake Codegen API; share `codegen_server.clock` (a FakeClock) with the client.

    Fails the test at teardown if any request or response broke the OpenAPI contract.
    """
    server = make_codegen_server()
    try:
        yield server
    finally:
        server.stop()
    assert server.contract_violations == []
