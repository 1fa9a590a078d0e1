"""What reaches POST /slack/events is checked before the bot acts on it: Slack's signature and a
recent timestamp (401), at most 1 MB (413), JSON or form bodies of Slack's shape (400), and whatever
arrives, signed or not, the endpoint answers without a server error and goes on serving."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.http import MAX_BODY_BYTES
from tests.harness import SIGNING_SECRET, AppUnderTest, sign, wait_for
from tests.servers.codegen_server import CodegenServer

FORM = "application/x-www-form-urlencoded"
COMMAND = {"command": "/codegen", "user_id": "U0ALICE", "channel_id": "C0GENERAL", "trigger_id": "t1"}


def signed(body: bytes) -> dict[str, str]:
    """Slack's headers for any bytes (the harness signs text only)."""
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def command_body(text: str, **fields: str) -> bytes:
    return urlencode({**COMMAND, "text": text, **fields}).encode()


def test_bad_signature_is_refused_and_nothing_runs(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    body = command_body("delete everything")
    forged = sign(body, secret="not-the-signing-secret")
    assert app.post(body, FORM, headers=forged).status_code == 401
    assert app.post(body, FORM, headers={}).status_code == 401
    latin1 = {**sign(body), "X-Slack-Signature": "v0=ünïcode".encode("latin-1"), "Content-Type": FORM}
    assert app.http.post("/slack/events", content=body, headers=latin1).status_code == 401
    assert app.post(body + b" ", FORM, headers=sign(body)).status_code == 401  # body changed after signing
    time.sleep(0.3)
    assert codegen_api.runs() == []


def test_stale_or_future_timestamp_is_refused(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    body = command_body("replayed request")
    now = int(time.time())
    for timestamp in (now - 5 * 60 - 5, now + 5 * 60 + 5):
        assert app.post(body, FORM, headers=sign(body, timestamp=timestamp)).status_code == 401
    headers = {**sign(body), "X-Slack-Request-Timestamp": "yesterday"}
    assert app.post(body, FORM, headers=headers).status_code == 401
    time.sleep(0.3)
    assert codegen_api.runs() == []


def test_body_over_one_megabyte_is_refused(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    body = command_body("x" * MAX_BODY_BYTES)
    assert app.post(body, FORM).status_code == 413
    assert app.post(command_body("x" * (MAX_BODY_BYTES - 200)), FORM).status_code != 413


def test_malformed_bodies_get_400(app: AppUnderTest) -> None:
    malformed = [
        (b'{"type": "event_callback", "event": ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"\xff\xfe not utf-8", FORM),
        (b"", FORM),
        (b"payload=%7Bnot+json", FORM),
        (b"[" * 100_000, "application/json"),
        (json.dumps({"type": "event_callback", "event": "a string"}).encode(), "application/json"),
        (
            json.dumps({"type": "event_callback", "event": {"type": "app_mention"}}).encode(),
            "application/json",
        ),
        (urlencode({"command": "/codegen", "text": "no user"}).encode(), FORM),
        (b"payload=" + json.dumps({"type": "block_actions", "actions": "x"}).encode(), FORM),
    ]
    for body, content_type in malformed:
        response = app.post(body, content_type, headers=signed(body))
        assert response.status_code == 400, (body[:60], response.status_code, response.text)


def test_command_mentioning_payload_is_not_lost(app: AppUnderTest, codegen_api: CodegenServer) -> None:
    # Bolt alone drops any form body that contains the word "payload".
    assert app.post(command_body("fix the payload parser"), FORM).status_code == 200
    run = wait_for(codegen_api.runs, what="the run")[0]
    assert codegen_api.run_inputs(run["id"])["prompt"] == "fix the payload parser"


# --- fuzz: signed bodies of every shape --------------------------------------------------------

KEYS = st.sampled_from(
    [
        "type", "event", "user", "channel", "team", "enterprise", "actions", "view", "message",
        "container", "command", "user_id", "channel_id", "text", "trigger_id", "authorizations",
        "event_id", "challenge", "response_url", "response_urls", "callback_id", "api_app_id", "token",
        "is_enterprise_install", "files", "ts", "thread_ts", "subtype", "channel_type", "bot_id", "id",
        "state", "values", "private_metadata", "action_id", "value", "selected_option", "ssl_check",
    ]
)  # fmt: skip
WORDS = st.sampled_from(
    [
        "event_callback", "block_actions", "view_submission", "shortcut", "message_action",
        "url_verification", "app_mention", "message", "/codegen", "UBOT", "U0ALICE", "C0GENERAL",
        "D0ALICE", "1700000000.000100", "open_run", "show_steps", "follow_up", "retry_run",
        "codegen_run", "codegen_follow_up", "send_to_codegen", "home_dm_on_finish", "status 1", "help",
        '{"channel": "C0GENERAL"}', "<@UBOT> fix it",
    ]
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | WORDS
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=20,
)
ENVELOPES = st.dictionaries(KEYS, VALUES, max_size=8)


TS, THREAD_TS, TRIGGER = "1700000000.000200", "1700000000.000100", "1700000000.1.0abc"
MESSAGE = {"ts": TS, "thread_ts": THREAD_TS, "text": "checkout fails", "user": "U0BOB"}
AUTHORIZATIONS = [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]
STATE_VALUES = {
    "prompt": {"prompt_input": {"type": "plain_text_input", "value": "fix the flaky test"}},
    "repo": {"repo_select": {"type": "static_select", "selected_option": {"value": "acme/web"}}},
    "model": {"model_input": {"type": "plain_text_input", "value": None}},
}
IMAGE = {"id": "F1", "name": "a.png", "mimetype": "image/png", "url_private": "http://127.0.0.1:9/a.png"}


def _event(**event: object) -> dict:
    return {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": event,
        "authorizations": AUTHORIZATIONS,
    }


def _interaction(kind: str, **fields: object) -> dict:
    return {
        "type": kind,
        "user": {"id": "U0ALICE"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "trigger_id": TRIGGER,
        **fields,
    }


def _action(action_id: str) -> dict:
    action = {
        "action_id": action_id,
        "block_id": "run_controls",
        "value": "40001",
        "type": "button",
        "action_ts": "1700000001.1",
    }
    return _interaction(
        "block_actions",
        actions=[action],
        channel={"id": "C0GENERAL"},
        message=MESSAGE,
        container={"type": "message", "message_ts": TS, "channel_id": "C0GENERAL"},
    )


def _view(callback_id: str, private_metadata: str) -> dict:
    view = {
        "id": "V1",
        "type": "modal",
        "callback_id": callback_id,
        "state": {"values": STATE_VALUES},
        "private_metadata": private_metadata,
    }
    return _interaction("view_submission", view=view)


# Requests the bot answers, as Slack sends them; the fuzz changes a few of their fields at a time.
TEMPLATES = [
    {**COMMAND, "text": "fix the flaky test repo=acme/web", "team_id": "T1", "response_url": ""},
    _event(type="app_mention", channel="C0GENERAL", user="U0ALICE", text="<@UBOT> fix it", ts=TS),
    _event(type="message", channel="C0GENERAL", channel_type="channel", user="U0BOB", text="more",
           ts=TS, thread_ts=THREAD_TS),
    _event(type="message", channel="D0ALICE", channel_type="im", user="U0ALICE", text="hi", ts=TS,
           files=[IMAGE]),
    *[_action(a) for a in ("open_run", "show_steps", "follow_up", "retry_run", "home_dm_on_finish",
                           "home_default_repo", "home_default_model", "home_clear_defaults")],
    _view("codegen_run", json.dumps({"channel": "C0GENERAL", "thread_ts": THREAD_TS})),
    _view("codegen_follow_up", "40001"),
    _interaction("message_action", callback_id="send_to_codegen", channel={"id": "C0GENERAL"},
                 message=MESSAGE),
    _interaction("shortcut", callback_id="send_to_codegen"),
    {"type": "url_verification", "challenge": "abc", "token": "legacy"},
]  # fmt: skip


def _objects(node: object) -> list[dict]:
    """Every JSON object inside `node` (itself included)."""
    if isinstance(node, dict):
        return [node, *(o for v in node.values() for o in _objects(v))]
    if isinstance(node, list):
        return [o for v in node for o in _objects(v)]
    return []


@st.composite
def near_slack(draw: st.DrawFn) -> dict:
    """A request Slack would send, with a few fields removed, added or given other values."""
    body = copy.deepcopy(draw(st.sampled_from(TEMPLATES)))
    if body.get("type") == "event_callback":
        body["event_id"] = f"Ev{draw(st.integers(0, 10**9))}"
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(_objects(body)))
        key = draw(st.sampled_from(sorted(target)) | KEYS if target else KEYS)
        if key in target and draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(VALUES)
    return body


def _form(fields: dict) -> bytes:
    return urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}).encode()


def _encoded(body: dict) -> tuple[bytes, str]:
    """Encoded the way Slack sends its kind: commands as a form, interactions as a form field."""
    if "command" in body:
        return _form(body), FORM
    if body.get("type") in ("event_callback", "url_verification"):
        return json.dumps(body).encode(), "application/json"
    return _form({"payload": body}), FORM


BODIES = st.one_of(
    near_slack().map(_encoded),
    ENVELOPES.map(lambda e: (json.dumps(e).encode(), "application/json")),
    ENVELOPES.map(lambda e: (_form(e), FORM)),
    ENVELOPES.map(lambda e: (_form({"payload": e}), FORM)),
    st.tuples(
        st.binary(max_size=200),
        st.sampled_from(["application/json", FORM, "text/plain", "", "multipart/form-data; boundary=x"]),
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_fuzzed_signed_bodies_never_cause_a_server_error(app: AppUnderTest, body: tuple[bytes, str]) -> None:
    data, content_type = body
    response = app.post(data, content_type, headers=signed(data))
    assert response.status_code < 500, (data[:200], content_type, response.status_code)


def test_the_endpoint_serves_on_after_garbage(app: AppUnderTest) -> None:
    for data in (b"\x00" * 1000, b"{" * 5000, b"payload=" + b"%FF" * 100):
        app.post(data, "application/json", headers=signed(data))
    assert app.http.get("/healthz").status_code == 200
    assert "/codegen" in app.command("help").json()["text"]
