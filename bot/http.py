"""The HTTP face of the bot: Slack's events endpoint and a health check, as one WSGI app."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import create_server, wasyncore

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1024 * 1024
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def make_wsgi_app(
    bolt: App,
    health: Callable[[], tuple[bool, dict[str, Any]]],
    metrics: Callable[[], bytes] | None = None,
) -> Callable[..., Iterable[bytes]]:
    """Route POST /slack/events to Bolt, GET /healthz and GET /metrics; refuse bodies over 1 MB."""
    slack = SlackRequestHandler(bolt, path=EVENTS_PATH)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return _json(start_response, "400 Bad Request", {"error": "bad Content-Length"})
            if length > MAX_BODY_BYTES:
                return _json(start_response, "413 Payload Too Large", {"error": "body over 1 MB"})
            return slack(environ, start_response)
        if path == "/healthz" and method in {"GET", "HEAD"}:
            ok, state = health()
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable", {"ok": ok, **state})
        if path == "/metrics" and method == "GET" and metrics is not None:
            data = metrics()
            start_response(
                "200 OK", [("Content-Type", METRICS_CONTENT_TYPE), ("Content-Length", str(len(data)))]
            )
            return [data]
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return app


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class HttpServer:
    """waitress (a production WSGI server) serving `wsgi` from a background thread."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]], host: str, port: int, threads: int = 8) -> None:
        self._server = create_server(
            wsgi,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=MAX_BODY_BYTES,
            ident="codegen-slack",
        )
        self.port: int = self._server.effective_port  # type: ignore[union-attr]
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def start(self) -> HttpServer:
        """Begin accepting requests."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            if not self._closing:  # closing the socket under select() ends the loop this way
                raise

    def close(self) -> None:
        """Stop accepting requests, finish the ones in flight, close every connection."""
        self._closing = True
        self._server.close()
        wasyncore.close_all(self._server._map)  # type: ignore[union-attr]  # idle keep-alive connections too
        self._server.task_dispatcher.shutdown()  # type: ignore[union-attr]  # lets requests in flight finish
        self._thread.join(5)
