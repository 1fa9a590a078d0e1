"""The Slack test server's agent-session and link methods, driven by slack_sdk's WebClient: their
statuses, errors, warnings and rate tiers, as the bot meets them."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakeclock import FakeClock
from tests.servers.slack_fixtures import ALICE, GENERAL, slack_server_fixture, start_slack_server  # noqa: F401
from tests.servers.slack_server import SlackServer


def web(server: SlackServer) -> WebClient:
    return WebClient(token=server.bot_token, base_url=server.api_url)


def error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def test_a_session_is_made_by_its_first_status_and_keeps_its_title(slack_server: SlackServer) -> None:
    client = web(slack_server)
    ts = slack_server.post_as_user(GENERAL, ALICE, "fix it")
    made = client.agents_sessions_setStatus(
        channel_id=GENERAL, thread_ts=ts, status="processing", title="Fix it"
    )
    client.agents_sessions_setStatus(channel_id=GENERAL, thread_ts=ts, status="closed", title="Ignored")
    session = slack_server.agent.sessions[(GENERAL, ts)]
    assert made["status"] == "processing" and "warning" not in made.data  # type: ignore[operator]
    assert session.title == "Fix it" and session.statuses == ["processing", "closed"]


def test_session_status_errors(slack_server: SlackServer) -> None:
    client = web(slack_server)
    ts = slack_server.post_as_user(GENERAL, ALICE, "fix it")
    set_status = client.agents_sessions_setStatus
    assert error(lambda: set_status(channel_id=GENERAL, thread_ts=ts, status="done")) == "invalid_arguments"
    assert error(lambda: set_status(channel_id=GENERAL, thread_ts="1.000001", status="active")) == (
        "invalid_thread_ts"
    )
    assert (
        error(lambda: set_status(channel_id="C0NOPE", thread_ts=ts, status="active")) == "channel_not_found"
    )
    long_title = "x" * 201
    assert error(lambda: set_status(channel_id=GENERAL, thread_ts=ts, status="active", title=long_title)) == (
        "invalid_arguments"
    )
    slack_server.scopes.discard("chat:write")
    assert error(lambda: set_status(channel_id=GENERAL, thread_ts=ts, status="active")) == "missing_scope"


def test_a_session_warns_while_the_stop_event_is_not_subscribed(slack_server: SlackServer) -> None:
    slack_server.agent.subscribed.discard("agent_session_stopped")
    ts = slack_server.post_as_user(GENERAL, ALICE, "fix it")
    answer = web(slack_server).agents_sessions_setStatus(
        channel_id=GENERAL, thread_ts=ts, status="processing"
    )
    assert answer["warning"] == "missing_agent_session_stopped_event_subscription"


def test_loading_text_is_recorded_and_cleared(slack_server: SlackServer) -> None:
    client = web(slack_server)
    ts = slack_server.post_as_user(GENERAL, ALICE, "fix it")
    client.assistant_threads_setStatus(
        channel_id=GENERAL, thread_ts=ts, status="Running tests", loading_messages=["Running tests"]
    )
    client.assistant_threads_setStatus(channel_id=GENERAL, thread_ts=ts, status="")
    assert slack_server.agent.sessions[(GENERAL, ts)].loading == ["Running tests", ""]
    too_many = [f"step {n}" for n in range(11)]
    assert (
        error(
            lambda: client.assistant_threads_setStatus(
                channel_id=GENERAL, thread_ts=ts, status="x", loading_messages=too_many
            )
        )
        == "invalid_arguments"
    )


def test_unfurl_attaches_previews_to_links_in_the_message_only(slack_server: SlackServer) -> None:
    client = web(slack_server)
    url = "https://codegen.com/agent/trace/7"
    ts = slack_server.post_as_user(GENERAL, ALICE, f"see <{url}>")
    preview = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "run 7"}}]}
    client.chat_unfurl(channel=GENERAL, ts=ts, unfurls={url: preview})
    assert slack_server.agent.unfurls[(GENERAL, ts)] == {url: preview}
    other = {"https://codegen.com/agent/trace/8": preview}
    assert error(lambda: client.chat_unfurl(channel=GENERAL, ts=ts, unfurls=other)) == "cannot_unfurl_url"
    assert error(lambda: client.chat_unfurl(channel=GENERAL, ts="1.000001", unfurls={url: preview})) == (
        "cannot_find_message"
    )
    assert (
        error(lambda: client.chat_unfurl(channel=GENERAL, ts=ts, unfurls={url: {}}))
        == "invalid_unfurls_format"
    )
    slack_server.scopes.discard("links:write")
    assert (
        error(lambda: client.chat_unfurl(channel=GENERAL, ts=ts, unfurls={url: preview})) == "missing_scope"
    )


@pytest.mark.parametrize(
    "method", ["agents.sessions.setStatus", "assistant.threads.setStatus", "chat.unfurl"]
)
def test_the_new_methods_are_tier_3(method: str) -> None:
    clock = FakeClock()
    with start_slack_server(clock) as server:
        ts = server.post_as_user(GENERAL, ALICE, "see <https://codegen.com/agent/trace/7>")
        params = {
            "agents.sessions.setStatus": {"channel_id": GENERAL, "thread_ts": ts, "status": "active"},
            "assistant.threads.setStatus": {"channel_id": GENERAL, "thread_ts": ts, "status": "x"},
            "chat.unfurl": {
                "channel": GENERAL,
                "ts": ts,
                "unfurls": {"https://codegen.com/agent/trace/7": {"blocks": [{"type": "divider"}]}},
            },
        }[method]
        client = web(server)
        for _ in range(50):
            client.api_call(method, json=params)
        assert error(lambda: client.api_call(method, json=params)) == "ratelimited"
        clock.advance(60)
        assert client.api_call(method, json=params)["ok"]


def test_unfurl_takes_work_objects_in_metadata_and_refuses_malformed_ones(slack_server: SlackServer) -> None:
    client = web(slack_server)
    url = "https://codegen.com/agent/trace/7"
    ts = slack_server.post_as_user(GENERAL, ALICE, f"see <{url}>")
    repository = {"key": "repository", "label": "Repository", "type": "string", "value": "acme/web"}
    payload = {
        "attributes": {"title": {"text": "Run 7"}},
        "fields": {"status": {"value": "RUNNING"}},
        "custom_fields": [repository],
    }
    entity = {
        "entity_type": "slack#/entities/task",
        "url": url,
        "app_unfurl_url": url,
        "external_ref": {"id": "7", "type": "agent_run"},
        "entity_payload": payload,
    }
    preview = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "run 7"}}]}
    client.chat_unfurl(channel=GENERAL, ts=ts, unfurls={url: preview}, metadata={"entities": [entity]})
    assert slack_server.agent.work_objects[(GENERAL, ts)] == [entity]
    assert slack_server.agent.unfurls[(GENERAL, ts)] == {url: preview}
    form = {"channel": GENERAL, "ts": ts, "metadata": json.dumps({"entities": [entity]})}
    assert client.api_call("chat.unfurl", data=form)["ok"]  # URL-encoded, metadata alone

    def refused(metadata: object) -> str:
        sent = {"channel": GENERAL, "ts": ts, "unfurls": {url: preview}, "metadata": metadata}
        return error(lambda: client.api_call("chat.unfurl", json=sent))

    form["metadata"] = "{not json"
    assert error(lambda: client.api_call("chat.unfurl", data=form)) == "invalid_metadata_format"
    assert refused({"entities": []}) == "invalid_metadata_format"
    assert refused({"entities": "task"}) == "invalid_metadata_format"
    for broken in (
        {**entity, "entity_type": "slack#/entities/run"},
        {key: value for key, value in entity.items() if key != "app_unfurl_url"},
        {**entity, "external_ref": {"id": 7}},
        {**entity, "url": "not a url"},
        {**entity, "entity_payload": {"attributes": {}}},
        {**entity, "entity_payload": {**payload, "custom_fields": [{"key": "x", "value": "y"}]}},
    ):
        assert refused({"entities": [broken]}) == "error_processing_metadata"
    elsewhere = "https://codegen.com/agent/trace/8"
    assert refused({"entities": [{**entity, "app_unfurl_url": elsewhere}]}) == "cannot_unfurl_message"
    assert error(lambda: client.chat_unfurl(channel=GENERAL, ts=ts)) == "missing_unfurls"
