"""The Slack test servers, driven by slack_sdk's own WebClient, WebhookClient and SocketModeClient."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from tests.fakeclock import FakeClock
from tests.servers.slack_fixtures import (  # noqa: F401
    ALICE,
    BOB,
    GENERAL,
    slack_server_fixture,
    socket_mode_server_fixture,
    start_slack_server,
)
from tests.servers.slack_server import SlackServer
from tests.servers.socket_mode_server import SocketModeServer


def web(server: SlackServer, token: str | None = None, **kwargs: Any) -> WebClient:
    return WebClient(token=token or server.bot_token, base_url=server.api_url, **kwargs)


def error_of(call: Callable[[], Any]) -> SlackResponse:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Open", url: str | None = None) -> dict[str, Any]:
    element = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": "a"}
    return element | ({"url": url} if url else {})


def actions(count: int) -> dict[str, Any]:
    elements = [button() | {"action_id": f"a{i}"} for i in range(count)]
    return {"type": "actions", "elements": elements}


def context(count: int) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * count}


def markdown(chars: int) -> dict[str, Any]:
    return {"type": "markdown", "text": "m" * chars}


def table(rows: int, cells: int, **extra: Any) -> dict[str, Any]:
    row = [{"type": "raw_text", "text": "c"}] * cells
    return {"type": "table", "rows": [row] * rows, **extra}


def tables(*blocks: dict[str, Any]) -> dict[str, Any]:
    """Message fields with `blocks` in an attachment, where Slack takes tables."""
    return {"text": "fallback", "attachments": [{"blocks": list(blocks)}]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_server(clock: FakeClock) -> Iterator[SlackServer]:
    """The default workspace on a FakeClock, for rate limits and trigger expiry."""
    with start_slack_server(clock) as server:
        yield server


# ---------------------------------------------------------------------- messages and threads


def test_auth_test_identifies_the_bot(slack_server: SlackServer) -> None:
    identity = web(slack_server).auth_test()

    assert identity["user_id"] == slack_server.bot_user_id == "UBOT"
    assert identity["bot_id"] == slack_server.bot_id
    assert identity["team_id"] and identity["app_id"] and identity["url"].startswith("https://")


def test_posted_messages_are_stored_in_order_with_unique_increasing_ts(
    slack_server: SlackServer,
) -> None:
    client = web(slack_server)
    stamps = [client.chat_postMessage(channel=GENERAL, text=f"m{i}")["ts"] for i in range(5)]

    assert [Decimal(ts) for ts in stamps] == sorted({Decimal(ts) for ts in stamps})
    stored = slack_server.messages(GENERAL)
    assert [m["text"] for m in stored] == ["m0", "m1", "m2", "m3", "m4"]
    assert all(m["bot_id"] == slack_server.bot_id and m["user"] == "UBOT" for m in stored)


def test_thread_replies_come_back_parent_first_with_reply_count(slack_server: SlackServer) -> None:
    client = web(slack_server)
    parent = client.chat_postMessage(channel=GENERAL, text="Run started")["ts"]
    slack_server.post_as_user(GENERAL, ALICE, "also fix the tests", thread_ts=parent)
    client.chat_postMessage(channel=GENERAL, text="On it", thread_ts=parent)

    replies = client.conversations_replies(channel=GENERAL, ts=parent)["messages"]

    assert [m["text"] for m in replies] == ["Run started", "also fix the tests", "On it"]
    assert replies[0]["reply_count"] == 2 and replies[0]["reply_users"] == [ALICE, "UBOT"]
    assert replies[1]["user"] == ALICE and "bot_id" not in replies[1]
    assert all(m["thread_ts"] == parent for m in replies)
    assert [m["text"] for m in slack_server.messages(GENERAL)] == ["Run started"]
    assert len(slack_server.messages(GENERAL, thread_ts=parent)) == 3


def test_replies_paginate_with_limit_and_cursor(slack_server: SlackServer) -> None:
    client = web(slack_server)
    parent = client.chat_postMessage(channel=GENERAL, text="parent")["ts"]
    for i in range(4):
        slack_server.post_as_user(GENERAL, BOB, f"r{i}", thread_ts=parent)

    texts, cursor, pages = [], None, 0
    while True:
        page = client.conversations_replies(channel=GENERAL, ts=parent, limit=2, cursor=cursor)
        texts += [m["text"] for m in page["messages"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break

    assert texts == ["parent", "r0", "r1", "r2", "r3"]
    assert pages == 3


def test_history_lists_top_level_messages_newest_first(slack_server: SlackServer) -> None:
    client = web(slack_server)
    first = client.chat_postMessage(channel=GENERAL, text="first")["ts"]
    client.chat_postMessage(channel=GENERAL, text="in thread", thread_ts=first)
    client.chat_postMessage(channel=GENERAL, text="second")

    history = client.conversations_history(channel=GENERAL)["messages"]

    assert [m["text"] for m in history] == ["second", "first"]


def test_metadata_round_trips_only_when_asked_for(slack_server: SlackServer) -> None:
    client = web(slack_server)
    metadata = {"event_type": "codegen_run", "event_payload": {"run_id": 42}}
    ts = client.chat_postMessage(channel=GENERAL, text="Run 42", metadata=metadata)["ts"]

    with_metadata = client.conversations_replies(channel=GENERAL, ts=ts, include_all_metadata=True)
    without = client.conversations_replies(channel=GENERAL, ts=ts)

    assert with_metadata["messages"][0]["metadata"] == metadata
    assert "metadata" not in without["messages"][0]


def test_form_encoded_json_fields_are_decoded(slack_server: SlackServer) -> None:
    blocks = [section("hello")]
    metadata = {"event_type": "t", "event_payload": {"k": "v"}}
    web(slack_server).api_call("chat.postMessage", data={
        "channel": GENERAL, "text": "hi", "blocks": json.dumps(blocks),
        "metadata": json.dumps(metadata),
    })

    stored = slack_server.messages(GENERAL)[0]
    assert stored["blocks"] == blocks and stored["metadata"] == metadata


def test_blocks_that_are_not_json_are_rejected(slack_server: SlackServer) -> None:
    response = error_of(lambda: web(slack_server).api_call(
        "chat.postMessage", data={"channel": GENERAL, "blocks": "[{not json"}))

    assert response["error"] == "invalid_blocks_format"
    assert slack_server.messages(GENERAL) == []


# ---------------------------------------------------------------------- Slack's message limits

REJECTED = {
    "text over 40,000 chars": ({"text": "x" * 40_001}, "msg_too_long"),
    "51 blocks": ({"blocks": [section("x")] * 51}, "invalid_blocks"),
    "section over 3,000": ({"blocks": [section("x" * 3_001)]}, "invalid_blocks"),
    "header over 150": (
        {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
        "invalid_blocks",
    ),
    "button text over 75": ({"blocks": [{"type": "actions", "elements": [button("b" * 76)]}]},
                            "invalid_blocks"),
    "button url over 3,000": (
        {"blocks": [section("x") | {"accessory": button(url="https://e.x/" + "u" * 3_000)}]},
        "invalid_blocks",
    ),
    "context over 10 elements": ({"blocks": [context(11)]}, "invalid_blocks"),
    "actions over 25 elements": ({"blocks": [actions(26)]}, "invalid_blocks"),
    "block_id over 255": ({"blocks": [section("x") | {"block_id": "b" * 256}]}, "invalid_blocks"),
    "unknown block type": ({"blocks": [{"type": "hologram"}]}, "invalid_blocks"),
    "section without text": ({"blocks": [{"type": "section"}]}, "invalid_blocks"),
    "14,000 chars across blocks": ({"blocks": [section("x" * 2_800)] * 5}, "msg_blocks_too_long"),
    "neither text nor blocks": ({}, "no_text"),
    "markdown block over 12,000": ({"blocks": [markdown(12_001)]}, "invalid_blocks"),
    "markdown blocks over 12,000 together": ({"blocks": [markdown(6_001), markdown(6_000)]},
                                             "invalid_blocks"),
    "table in the blocks": ({"blocks": [table(2, 2)]}, "invalid_blocks"),
    "two tables": (tables(table(2, 2), table(2, 2)), "invalid_attachments"),
    "table over 100 rows": (tables(table(101, 2)), "invalid_attachments"),
    "table row over 20 cells": (tables(table(2, 21)), "invalid_attachments"),
    "table over 20 column settings": (tables(table(2, 2, column_settings=[{"align": "left"}] * 21)),
                                      "invalid_attachments"),
    "table cell of no text": (tables({"type": "table", "rows": [[{"type": "raw_text", "text": ""}]]}),
                              "invalid_attachments"),
}

ACCEPTED = {
    "text of 40,000 chars": {"text": "x" * 40_000},
    "50 blocks": {"blocks": [section("x")] * 50},
    "section of 3,000": {"blocks": [section("x" * 3_000)]},
    "12,000 chars across blocks": {"blocks": [section("x" * 3_000)] * 4},
    "header of 150": {"blocks": [{"type": "header",
                                  "text": {"type": "plain_text", "text": "h" * 150}}]},
    "button text of 75": {"blocks": [{"type": "actions", "elements": [button("b" * 75)]}]},
    "context of 10 elements": {"blocks": [context(10)]},
    "actions of 25 elements": {"blocks": [actions(25)]},
    "markdown blocks of 12,000 together": {"blocks": [markdown(6_000), markdown(6_000)]},
    "table of 100 rows of 20 cells": tables(table(100, 20, column_settings=[{"align": "left"}] * 20)),
}


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(("fields", "error"), REJECTED.values(), ids=REJECTED.keys())
def test_messages_over_slack_limits_are_rejected(
    slack_server: SlackServer, fields: dict[str, Any], error: str
) -> None:
    response = error_of(lambda: web(slack_server).chat_postMessage(channel=GENERAL, **fields))

    assert response.status_code == 200
    assert response["error"] == error
    assert slack_server.messages(GENERAL) == []


@pytest.mark.parametrize("fields", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_messages_at_slack_limits_are_accepted(
    slack_server: SlackServer, fields: dict[str, Any]
) -> None:
    web(slack_server).chat_postMessage(channel=GENERAL, **({"text": "fallback"} | fields))

    assert len(slack_server.messages(GENERAL)) == 1


def test_update_replaces_content_and_counts_edits(slack_server: SlackServer) -> None:
    client = web(slack_server)
    ts = client.chat_postMessage(channel=GENERAL, text="Queued", blocks=[section("Queued")])["ts"]

    client.chat_update(channel=GENERAL, ts=ts, text="Running", blocks=[section("Running")])
    rejected = error_of(lambda: client.chat_update(channel=GENERAL, ts=ts, text="x" * 40_001))

    assert rejected["error"] == "msg_too_long"
    stored = slack_server.message(GENERAL, ts)
    assert stored["text"] == "Running" and stored["blocks"] == [section("Running")]
    assert stored["updates"] == 1


def test_update_errors(slack_server: SlackServer) -> None:
    client = web(slack_server)
    human = slack_server.post_as_user(GENERAL, ALICE, "hello")

    unknown = error_of(lambda: client.chat_update(channel=GENERAL, ts="1.000001", text="x"))
    not_ours = error_of(lambda: client.chat_update(channel=GENERAL, ts=human, text="x"))

    assert unknown["error"] == "message_not_found"
    assert not_ours["error"] == "cant_update_message"
    assert slack_server.message(GENERAL, human)["text"] == "hello"


def test_channel_errors(slack_server: SlackServer) -> None:
    slack_server.add_channel("C0OLD", name="old", archived=True)
    slack_server.add_channel("C0ELSE", name="elsewhere", bot_member=False, is_private=True)
    slack_server.add_channel("C0OPEN", name="open", bot_member=False)
    client = web(slack_server)

    def post(channel: str) -> str:
        return error_of(lambda: client.chat_postMessage(channel=channel, text="hi"))["error"]

    assert post("C0NOPE") == "channel_not_found"
    assert post("C0OLD") == "is_archived"
    assert post("C0ELSE") == "not_in_channel"
    assert client.chat_postMessage(channel="C0OPEN", text="hi")["ok"]  # chat:write.public
    slack_server.scopes.discard("chat:write.public")
    assert post("C0OPEN") == "not_in_channel"
    assert error_of(lambda: client.conversations_join(channel="C0ELSE"))["error"] == (
        "method_not_supported_for_channel_type"
    )
    assert client.conversations_join(channel="C0OPEN")["channel"]["is_member"]
    assert client.chat_postMessage(channel="C0OPEN", text="a member now")["ok"]


def test_token_errors_and_unknown_methods(slack_server: SlackServer) -> None:
    def error(token: str | None, method: str = "auth.test") -> str:
        client = WebClient(token=token, base_url=slack_server.api_url)
        return error_of(lambda: client.api_call(method))["error"]

    assert error("xoxb-wrong") == "invalid_auth"
    assert error(None) == "not_authed"
    assert error(slack_server.app_token) == "not_allowed_token_type"
    assert error(slack_server.bot_token, "apps.connections.open") == "not_allowed_token_type"
    assert error(slack_server.bot_token, "chat.teleport") == "unknown_method"


def test_reactions_add_and_remove(slack_server: SlackServer) -> None:
    client = web(slack_server)
    ts = slack_server.post_as_user(GENERAL, ALICE, "please fix")

    client.reactions_add(channel=GENERAL, timestamp=ts, name="eyes")
    assert slack_server.message(GENERAL, ts)["reactions"] == {"eyes": ["UBOT"]}
    again = error_of(lambda: client.reactions_add(channel=GENERAL, timestamp=ts, name="eyes"))
    client.reactions_remove(channel=GENERAL, timestamp=ts, name="eyes")
    gone = error_of(lambda: client.reactions_remove(channel=GENERAL, timestamp=ts, name="eyes"))
    missing = error_of(lambda: client.reactions_add(channel=GENERAL, timestamp="9.9", name="x"))

    assert slack_server.message(GENERAL, ts)["reactions"] == {}
    assert (again["error"], gone["error"], missing["error"]) == (
        "already_reacted", "no_reaction", "message_not_found")


def test_unknown_thread_is_not_found(slack_server: SlackServer) -> None:
    response = error_of(lambda: web(slack_server).conversations_replies(channel=GENERAL, ts="1.5"))

    assert response["error"] == "thread_not_found"


def test_ephemerals_are_kept_apart_from_channel_messages(slack_server: SlackServer) -> None:
    slack_server.add_user("U0CAROL", "carol", real_name="Carol")
    client = web(slack_server)

    client.chat_postEphemeral(channel=GENERAL, user=ALICE, text="Only you can see this")
    outsider = error_of(lambda: client.chat_postEphemeral(channel=GENERAL, user="U0CAROL", text="x"))

    assert [e["text"] for e in slack_server.ephemerals(GENERAL, ALICE)] == ["Only you can see this"]
    assert slack_server.ephemerals(user=BOB) == []
    assert slack_server.messages(GENERAL) == []
    assert outsider["error"] == "user_not_in_channel"


def test_direct_messages_and_user_lookup(slack_server: SlackServer) -> None:
    client = web(slack_server)

    opened = client.conversations_open(users=ALICE)
    reopened = client.conversations_open(users=[ALICE])
    client.chat_postMessage(channel=opened["channel"]["id"], text="Your run finished")
    alice = client.users_info(user=ALICE)["user"]
    unknown = error_of(lambda: client.users_info(user="U0NOBODY"))

    assert opened["channel"]["id"].startswith("D")
    assert reopened["channel"]["id"] == opened["channel"]["id"] and reopened["already_open"]
    assert [m["text"] for m in slack_server.messages(opened["channel"]["id"])] == [
        "Your run finished"]
    assert alice["real_name"] == "Alice" and alice["profile"]["display_name"] and alice["tz"]
    assert unknown["error"] == "user_not_found"


def test_permalink_and_delete(slack_server: SlackServer) -> None:
    client = web(slack_server)
    ts = client.chat_postMessage(channel=GENERAL, text="temporary")["ts"]
    human = slack_server.post_as_user(GENERAL, BOB, "mine")

    link = client.chat_getPermalink(channel=GENERAL, message_ts=ts)["permalink"]
    client.chat_delete(channel=GENERAL, ts=ts)
    not_ours = error_of(lambda: client.chat_delete(channel=GENERAL, ts=human))
    deleted = error_of(lambda: client.chat_getPermalink(channel=GENERAL, message_ts=ts))

    assert link.endswith(f"/archives/{GENERAL}/p{ts.replace('.', '')}")
    assert [m["text"] for m in slack_server.messages(GENERAL)] == ["mine"]
    assert (not_ours["error"], deleted["error"]) == ("cant_delete_message", "message_not_found")


# ---------------------------------------------------------------------- views


def modal(blocks: int = 1, kind: str = "modal") -> dict[str, Any]:
    return {"type": kind, "title": {"type": "plain_text", "text": "Codegen"},
            "blocks": [section("x")] * blocks}


def test_views_open_update_and_publish(slack_server: SlackServer) -> None:
    client = web(slack_server)
    trigger = slack_server.trigger_id()

    view_id = client.views_open(trigger_id=trigger, view=modal())["view"]["id"]
    client.views_update(view_id=view_id, view=modal(blocks=2))
    client.views_publish(user_id=ALICE, view=modal(kind="home"))
    reused = error_of(lambda: client.views_open(trigger_id=trigger, view=modal()))
    too_big = error_of(lambda: client.views_open(trigger_id=slack_server.trigger_id(),
                                                 view=modal(blocks=101)))
    wrong_type = error_of(lambda: client.views_publish(user_id=ALICE, view=modal()))

    views = slack_server.views
    assert [(v["id"], len(v["blocks"])) for v in views.modals] == [(view_id, 2)]
    assert views.home[ALICE]["type"] == "home"
    assert reused["error"] == "exchanged_trigger_id"
    assert too_big["error"] == wrong_type["error"] == "invalid_arguments"


def test_trigger_ids_expire_after_three_seconds(
    timed_server: SlackServer, clock: FakeClock
) -> None:
    trigger = timed_server.trigger_id()
    clock.advance(3.5)

    response = error_of(lambda: web(timed_server).views_open(trigger_id=trigger, view=modal()))

    assert response["error"] == "expired_trigger_id"
    assert timed_server.views.modals == []


# ---------------------------------------------------------------------- rate limits


def test_tier_limit_is_a_sliding_window(timed_server: SlackServer, clock: FakeClock) -> None:
    client = web(timed_server)
    client.conversations_history(channel=GENERAL)
    clock.advance(30)
    for _ in range(49):
        client.conversations_history(channel=GENERAL)

    limited = error_of(lambda: client.conversations_history(channel=GENERAL))
    clock.advance(30)  # the first call leaves the 60 s window, freeing one slot
    client.conversations_history(channel=GENERAL)
    limited_again = error_of(lambda: client.conversations_history(channel=GENERAL))

    assert limited.status_code == 429 and limited["error"] == "ratelimited"
    assert limited.headers["Retry-After"] == "30"
    assert limited_again.headers["Retry-After"] == "30"
    assert timed_server.count("conversations.history", ok=True) == 51


def test_post_message_limit_is_per_channel(timed_server: SlackServer) -> None:
    timed_server.add_channel("C0OTHER", name="other")
    client = web(timed_server)
    for i in range(10):
        client.chat_postMessage(channel=GENERAL, text=f"burst {i}")

    limited = error_of(lambda: client.chat_postMessage(channel=GENERAL, text="one too many"))
    client.chat_postMessage(channel="C0OTHER", text="other channel is fine")

    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert len(timed_server.messages(GENERAL)) == 10
    assert len(timed_server.messages("C0OTHER")) == 1


def test_limits_are_configurable_and_can_be_switched_off(timed_server: SlackServer) -> None:
    client = web(timed_server)
    timed_server.set_limit("users.info", 2, 1.0)
    client.users_info(user=ALICE)
    client.users_info(user=ALICE)

    limited = error_of(lambda: client.users_info(user=ALICE))
    timed_server.rate_limits_enabled = False
    client.users_info(user=ALICE)

    assert limited.status_code == 429
    assert timed_server.count("users.info", ok=True) == 3


def test_sdk_retry_handler_waits_out_retry_after(
    timed_server: SlackServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler sleeps with time.sleep; on the shared FakeClock that moves the server's window.
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=clock.sleep))
    timed_server.set_limit("users.info", 1, 30.0)
    client = web(timed_server, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    client.users_info(user=ALICE)
    second = client.users_info(user=BOB)

    assert second["user"]["id"] == BOB
    assert timed_server.count("users.info", ok=False) == 1
    assert timed_server.count("users.info", ok=True) == 2
    assert 30 <= clock.slept[0] < 31


# ---------------------------------------------------------------------- fault injection


def test_fail_next_answers_errors_then_recovers(slack_server: SlackServer) -> None:
    client = web(slack_server)
    slack_server.fail_next("chat.postMessage", "internal_error", count=2)

    errors = [error_of(lambda: client.chat_postMessage(channel=GENERAL, text="x"))["error"]
              for _ in range(2)]
    client.chat_postMessage(channel=GENERAL, text="third time lucky")

    assert errors == ["internal_error", "internal_error"]
    assert [m["text"] for m in slack_server.messages(GENERAL)] == ["third time lucky"]
    assert slack_server.count("chat.postMessage", ok=False) == 2


def test_fail_next_can_rate_limit_or_answer_html(slack_server: SlackServer) -> None:
    client = web(slack_server)
    slack_server.fail_next("auth.test", "ratelimited", retry_after=7)
    slack_server.fail_next("users.info", "service_unavailable", http_status=503)

    limited = error_of(client.auth_test)
    outage = error_of(lambda: client.users_info(user=ALICE))

    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert outage.status_code == 503 and "non-JSON" in outage["error"]


def test_delay_next_makes_a_client_time_out(slack_server: SlackServer) -> None:
    slack_server.delay_next("auth.test", 0.3)

    with pytest.raises((TimeoutError, URLError)):
        web(slack_server, timeout=0.1).auth_test()
    assert web(slack_server, timeout=0.1).auth_test()["ok"]


def test_calls_are_logged_without_tokens(slack_server: SlackServer) -> None:
    web(slack_server).chat_postMessage(channel=GENERAL, text="hi")
    error_of(lambda: web(slack_server).chat_postMessage(channel="C0NOPE", text="hi"))

    first, second = slack_server.calls
    assert (first.method, first.params["text"], first.ok, first.error) == (
        "chat.postMessage", "hi", True, None)
    assert (second.ok, second.error) == (False, "channel_not_found")
    assert all("token" not in call.params for call in slack_server.calls)


def test_concurrent_posts_all_land(slack_server: SlackServer) -> None:
    slack_server.rate_limits_enabled = False

    def post(worker: int) -> None:
        client = web(slack_server)
        for i in range(25):
            client.chat_postMessage(channel=GENERAL, text=f"{worker}-{i}")

    threads = [threading.Thread(target=post, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stamps = [m["ts"] for m in slack_server.messages(GENERAL)]
    assert len(stamps) == len(set(stamps)) == 200


# ---------------------------------------------------------------------- response_url


def test_response_url_captures_payloads(slack_server: SlackServer) -> None:
    url = slack_server.response_url("codegen-1")
    hook = WebhookClient(url)

    accepted = hook.send(text="Starting your run", response_type="ephemeral")
    replaced = hook.send(text="Run started", blocks=[section("Run started")], replace_original=True)
    rejected = hook.send(blocks=[section("x" * 3_001)])
    unknown = WebhookClient(f"{slack_server.url}/response/never-issued").send(text="x")

    assert (accepted.status_code, accepted.body) == (200, "ok")
    assert replaced.status_code == 200
    assert (rejected.status_code, rejected.body) == (400, "invalid_blocks")
    assert unknown.status_code == 404
    payloads = slack_server.responses("codegen-1")
    assert payloads[0] == {"text": "Starting your run", "response_type": "ephemeral"}
    assert payloads[1]["replace_original"] is True and payloads[1]["blocks"] == [
        section("Run started")]
    assert len(payloads) == 2


# ---------------------------------------------------------------------- Socket Mode


def test_apps_connections_open_takes_only_a_valid_app_token(slack_server: SlackServer) -> None:
    """As Slack: any valid app token gets a URL (here one nobody serves until a SocketModeServer is
    attached); a wrong token or the bot token is refused; the token's scopes are named."""
    client = WebClient(base_url=slack_server.api_url)

    answer = client.apps_connections_open(app_token=slack_server.app_token)

    assert answer["url"].startswith("ws://")
    assert answer.headers["x-oauth-scopes"] == "connections:write"
    wrong = error_of(lambda: client.apps_connections_open(app_token="xapp-1-wrong"))
    assert wrong["error"] == "invalid_auth"
    bot = error_of(lambda: client.apps_connections_open(app_token=slack_server.bot_token))
    assert bot["error"] == "not_allowed_token_type"


def test_bot_token_scopes_are_named_and_enforced() -> None:
    with SlackServer(scopes={"chat:write"}) as slack:
        slack.add_channel("C0GENERAL", name="general")
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)

        posted = client.chat_postMessage(channel="C0GENERAL", text="hi")
        missing = error_of(
            lambda: client.reactions_add(channel="C0GENERAL", timestamp=posted["ts"], name="eyes")
        )

    assert posted.headers["x-oauth-scopes"] == "chat:write"
    assert missing["error"] == "missing_scope" and missing["needed"] == "reactions:write"
    assert missing["provided"] == "chat:write"


def test_socket_mode_round_trip_and_refresh(
    slack_server: SlackServer, socket_mode_server: SocketModeServer
) -> None:
    received: list[dict[str, Any]] = []

    def acknowledge(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request.payload)
        client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload={"text": "On it"}))

    client = SocketModeClient(app_token=slack_server.app_token,
                              web_client=WebClient(base_url=slack_server.api_url))
    hellos: list[str] = []
    client.on_message_listeners.append(
        lambda raw: hellos.append(raw) if '"hello"' in raw else None)
    client.socket_mode_request_listeners.append(acknowledge)
    try:
        client.connect()
        socket_mode_server.wait_for_connections(1)
        command = {"command": "/codegen", "text": "fix the flaky test", "user_id": ALICE}
        first = socket_mode_server.send("slash_commands", command)
        first_ack = socket_mode_server.wait_for_ack(first, timeout=5)

        socket_mode_server.disconnect_all()
        socket_mode_server.wait_for_connections(1)
        second = socket_mode_server.send("events_api", {"event": {"type": "app_mention"}})
        second_ack = socket_mode_server.wait_for_ack(second, timeout=5)
    finally:
        client.close()

    assert first_ack == {"envelope_id": first, "payload": {"text": "On it"}}
    assert second_ack["envelope_id"] == second
    assert received[0] == command
    assert json.loads(hellos[0])["connection_info"]["app_id"] == slack_server.app_id
    assert slack_server.count("apps.connections.open", ok=True) == 2
    assert [a["envelope_id"] for a in socket_mode_server.acks] == [first, second]
