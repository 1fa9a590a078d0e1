"""A loopback double of Slack's Socket Mode WebSocket endpoint.

Clients (slack_sdk's SocketModeClient, slack_bolt's SocketModeHandler) get its `url` from
apps.connections.open on the SlackServer it is attached to (`slack_server.socket_mode = server`).
On connect it says hello; tests push envelopes with `send()` and read the client's acks with
`wait_for_ack()`. WebSocket ping/pong is handled by the websockets library on both sides.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

PING_INTERVAL = 0.05
ENVELOPE_TYPES = frozenset({"events_api", "slash_commands", "interactive"})


class SocketModeServer:
    """Slack's Socket Mode envelope protocol on 127.0.0.1; `start()` it before use."""

    def __init__(self, *, app_id: str = "A0APP") -> None:
        self.app_id = app_id
        self._changed = threading.Condition()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SocketModeServer:
        """Listen on a random loopback port, serving from a daemon thread."""
        self._server = serve(self._serve_connection, "127.0.0.1", 0, ping_interval=PING_INTERVAL)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="socket-mode-test-server"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Close all connections and stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SocketModeServer:
        return self if self._server else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The WebSocket URL apps.connections.open hands out."""
        if self._server is None:
            raise RuntimeError("SocketModeServer is not started")
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=test-ticket&app_id={self.app_id}"

    @property
    def connections(self) -> int:
        """How many clients are connected now."""
        with self._changed:
            return len(self._connections)

    @property
    def acks(self) -> list[dict[str, Any]]:
        """Every acknowledgement received (`{"envelope_id", "payload"?}`), oldest first."""
        with self._changed:
            return list(self._acks.values())

    def wait_for_connections(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until at least `count` clients are connected; TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._connections) >= count, timeout):
                raise TimeoutError(f"{len(self._connections)} of {count} clients connected")

    def send(
        self,
        type: str,
        payload: dict[str, Any],
        envelope_id: str | None = None,
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Push an envelope to the newest connection and return its envelope_id.

        `type` is "events_api", "slash_commands" or "interactive"; slash commands and interactive
        payloads accept a response payload in the ack by default, events do not.
        """
        if type not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {type!r}")
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": (
                type != "events_api" if accepts_response_payload is None
                else accepts_response_payload
            ),
        }
        if type == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        self._newest_connection().send(json.dumps(envelope))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The client's ack for `envelope_id`, waiting up to `timeout` seconds for it."""
        with self._changed:
            if not self._changed.wait_for(lambda: envelope_id in self._acks, timeout):
                raise TimeoutError(f"no ack for envelope {envelope_id} within {timeout}s")
            return self._acks[envelope_id]

    def disconnect_all(self, reason: str = "refresh_requested", *, close: bool = True) -> None:
        """Tell every client to reconnect, as Slack does every few hours, then close them.

        With `close=False` the old connections stay open (Slack keeps them a few seconds).
        """
        message = json.dumps({"type": "disconnect", "reason": reason,
                              "debug_info": {"host": "applink-test"}})
        with self._changed:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.send(message)
                if close:
                    connection.close()
            except ConnectionClosed:
                pass
            if close:
                self._forget(connection)

    def _newest_connection(self) -> ServerConnection:
        with self._changed:
            if not self._connections:
                raise RuntimeError("no Socket Mode client is connected")
            return self._connections[-1]

    def _serve_connection(self, connection: ServerConnection) -> None:
        try:
            connection.send(json.dumps({
                "type": "hello",
                "num_connections": self.connections + 1,
                "debug_info": {"host": "applink-test", "build_number": 1,
                               "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }))
        except ConnectionClosed:
            return
        with self._changed:  # registered after hello, so envelopes never overtake it
            self._connections.append(connection)
            self._changed.notify_all()
        try:
            for raw in connection:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            self._forget(connection)

    def _forget(self, connection: ServerConnection) -> None:
        with self._changed:
            if connection in self._connections:
                self._connections.remove(connection)
                self._changed.notify_all()

    def _receive(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if isinstance(message, dict) and "envelope_id" in message:
            with self._changed:
                self._acks[str(message["envelope_id"])] = message
                self._changed.notify_all()
