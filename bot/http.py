"""The HTTP face of the bot: Slack's events endpoint (checked before Bolt sees a request), a health
check and metrics, as one WSGI app."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltContext
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel

from bot.signatures import EVENTS_PATH, BadSignature, SignatureFailures, check_signature
from bot.slack_request import MalformedRequest, check_shape

log = logging.getLogger("codegen_slack.http")

MAX_BODY_BYTES = 1024 * 1024
# How often waitress's loop wakes up on its own: closing the server waits for this at most.
# Whole seconds: waitress reads it with int(), so a fraction becomes 0, a loop that never sleeps.
LOOP_WAKE_SECONDS = 1
DRAIN_SECONDS = 5.0  # at a stop, how long requests already received may take to be answered (Slack waits 3 s)
DRAIN_POLL_SECONDS = 0.02
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def make_wsgi_app(
    bolt: App,
    health: Callable[[], tuple[bool, dict[str, Any]]],
    metrics: Callable[[], bytes] | None = None,
    *,
    signing_secret: str | None,
    metrics_token: str | None = None,
) -> Callable[..., Iterable[bytes]]:
    """Route POST /slack/events to Bolt, GET /healthz and GET /metrics (none when `metrics` is None:
    it is served elsewhere, see `make_metrics_app`; with `metrics_token`, only to requests that bear it).

    A Slack request is checked before Bolt sees it: over 1 MB → 413; a bad signature or a
    timestamp more than 5 minutes away → 401 (and a warning naming SLACK_SIGNING_SECRET, or this
    machine's clock for a correctly signed old request, at most once a minute each); a body that is
    not the JSON or form Slack sends → 400. Without a signing secret (Socket Mode) there is no
    /slack/events: Slack's requests come over the socket.
    """
    secret = (signing_secret or "").encode()
    refused = SignatureFailures()

    def events(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return _json(start_response, "400 Bad Request", {"error": "bad Content-Length"})
        if length > MAX_BODY_BYTES:
            return _json(start_response, "413 Payload Too Large", {"error": "body over 1 MB"})
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            check_signature(secret, body, environ)
        except BadSignature as exc:
            refused.note(exc.skew)
            return _json(start_response, "401 Unauthorized", {"error": "invalid signature"})
        try:
            request = _bolt_request(body, environ)
        except MalformedRequest as exc:
            log.info("refused a malformed Slack request: %s", exc)
            return _json(start_response, "400 Bad Request", {"error": "malformed request"})
        answer = bolt.dispatch(request)
        response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
        start_response(response.status, response.get_headers())
        return response.get_body()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST" and signing_secret:
            return events(environ, start_response)
        if path == "/healthz" and method in {"GET", "HEAD"}:
            ok, state = health()
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable", {"ok": ok, **state})
        if path == "/metrics" and method == "GET" and metrics is not None:
            return serve_metrics(environ, start_response)
        return _json(start_response, "404 Not Found", {"error": "not found"})

    serve_metrics = make_metrics_app(metrics or (lambda: b""), metrics_token)
    return app


def make_metrics_app(
    metrics: Callable[[], bytes], token: str | None = None
) -> Callable[..., Iterable[bytes]]:
    """A WSGI app serving GET /metrics (Prometheus text) alone; with `token`, only to a request with
    `Authorization: Bearer <token>` (else 401 and a `WWW-Authenticate: Bearer` header)."""
    expected = f"Bearer {token}".encode() if token else None

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != "/metrics" or environ.get("REQUEST_METHOD", "GET") != "GET":
            return _json(start_response, "404 Not Found", {"error": "not found"})
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode(errors="replace")
        if expected is not None and not hmac.compare_digest(given, expected):
            refusal = {"error": "/metrics needs its bearer token (CODEGEN_SLACK_METRICS_TOKEN)"}
            challenge = [("WWW-Authenticate", 'Bearer realm="metrics"')]
            return _json(start_response, "401 Unauthorized", refusal, challenge)
        data = metrics()
        start_response("200 OK", [("Content-Type", METRICS_CONTENT_TYPE), ("Content-Length", str(len(data)))])
        return [data]

    return app


def _bolt_request(body: bytes, environ: dict[str, Any]) -> BoltRequest:
    """The request as Bolt reads it, once its body is known to be the JSON or form Slack sends."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the body is not UTF-8") from None
    content_type = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    data = _parse(text, content_type)
    check_shape(data)
    headers = {
        key[5:].lower().replace("_", "-"): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    headers["content-type"] = content_type
    request = BoltRequest(body="", query=str(environ.get("QUERY_STRING", "")), headers=headers)
    # The body as parsed here, not by Bolt: Bolt drops any form that merely contains the word
    # "payload" (a slash command like `/codegen fix the payload parser` would vanish).
    request.raw_body, request.body = text, data
    try:
        request.context = build_context(BoltContext({}), data)
    except Exception as exc:  # Bolt reads ids out of the body; a shape it can't read is the sender's
        raise MalformedRequest(f"Bolt could not read it ({type(exc).__name__})") from None
    return request


def _parse(text: str, content_type: str) -> dict[str, Any]:
    """The body as a dict: JSON (events), a form (slash commands), or a form whose `payload` field is
    JSON (interactions)."""
    if not text.strip():
        raise MalformedRequest("empty body")
    try:
        if content_type == "application/json" or text.startswith("{"):
            data: Any = json.loads(text)
        else:
            form = dict(parse_qsl(text, keep_blank_values=True))
            data = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, RecursionError):
        raise MalformedRequest("the body is not valid JSON or form data") from None
    if not isinstance(data, dict):
        raise MalformedRequest("the body is not a JSON object")
    return data


def _json(
    start_response: StartResponse, status: str, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    data = json.dumps(body).encode()
    length = ("Content-Length", str(len(data)))
    start_response(status, [("Content-Type", "application/json"), length, *headers])
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
            asyncore_loop_timeout=LOOP_WAKE_SECONDS,
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
        """Stop accepting connections, answer every request already received (up to DRAIN_SECONDS),
        then close every connection. A request Slack sent before the stop is answered: Slack does
        not retry slash commands, and an event recorded without its answer would come again."""
        self._closing = True
        if self._thread.ident is None:  # never started (another setting stopped the start)
            self._server.close()  # type: ignore[union-attr]
            self._server.task_dispatcher.shutdown()  # type: ignore[union-attr]
            return
        with contextlib.suppress(OSError):  # the listener only, in the loop's thread: requests stay
            self._server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(self._server))  # type: ignore[union-attr]
        deadline = time.monotonic() + DRAIN_SECONDS
        while self._serving() and time.monotonic() < deadline:
            time.sleep(DRAIN_POLL_SECONDS)
        # The loop's own thread closes everything (keep-alive connections, trigger), woken at once by
        # the trigger, so closing never waits for the loop's timeout.
        try:
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))  # type: ignore[union-attr]
        except OSError:  # the trigger is closed: the loop has ended already, so close what is left here
            wasyncore.close_all(self._server._map)  # type: ignore[union-attr]
        self._server.task_dispatcher.shutdown()  # type: ignore[union-attr]
        self._thread.join(5)

    def _serving(self) -> bool:
        """Whether a received request still waits for a thread, runs, or has its answer unsent."""
        dispatcher = self._server.task_dispatcher  # type: ignore[union-attr]
        if dispatcher.queue or dispatcher.active_count:
            return True
        channels = [c for c in list(self._server._map.values()) if isinstance(c, HTTPChannel)]  # type: ignore[union-attr]
        return any(c.requests or getattr(c, "request", None) or c.total_outbufs_len for c in channels)
