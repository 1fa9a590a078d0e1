"""The reaction trigger end to end, in fake time: reacting to a message with CODEGEN_SLACK_TRIGGER_EMOJI
sends it to Codegen as *Send to Codegen* does, with the channel's defaults; one run per message."""

from __future__ import annotations

from typing import Any

import pytest

from bot.render.modals import ATTACHED_INSTRUCTION
from tests.fake_time_app import ALICE, BOB, GENERAL, FakeTimeApp, make_fake_time_app
from tests.servers.codegen_server import CodegenServer

__all__ = ["make_fake_time_app"]


def react(app: FakeTimeApp, ts: str, user: str, reaction: str = "robot_face") -> None:
    event: dict[str, Any] = {"type": "reaction_added", "user": user, "reaction": reaction,
                             "item": {"type": "message", "channel": GENERAL, "ts": ts},
                             "item_user": ALICE, "event_ts": f"{app.clock.now():.6f}"}  # fmt: skip
    app.event(event)


@pytest.fixture
def app(make_fake_time_app, codegen_server: CodegenServer) -> FakeTimeApp:
    codegen_server.add_repo("acme/shop")
    return make_fake_time_app(codegen_slack_trigger_emoji=":robot_face:")


def test_reacting_sends_the_message_to_codegen_once_with_the_channels_defaults(app: FakeTimeApp) -> None:
    app.command("config repo acme/shop")
    ts = app.slack.post_as_user(GENERAL, ALICE, "Checkout crashes on Safari when the cart is empty")
    react(app, ts, BOB)
    react(app, ts, ALICE)  # a second person reacting makes no second run
    react(app, ts, BOB, "robot_face::skin-tone-3")
    app.work(5)
    app.clock.advance(2 * 86400)  # even after the bot forgot its done jobs
    app.work(3600)
    react(app, ts, ALICE)
    app.work(5)

    (prompt,) = app.prompts()
    assert prompt.startswith(ATTACHED_INSTRUCTION) and "Checkout crashes on Safari" in prompt
    run = app.app.bot.store.run_for_thread(GENERAL, ts)
    assert run is not None and run.requester == BOB and run.repo == "acme/shop"


def test_a_reply_reacted_to_gets_its_run_in_its_thread(app: FakeTimeApp) -> None:
    root = app.slack.post_as_user(GENERAL, ALICE, "Nightly export is slow")
    reply = app.slack.post_as_user(GENERAL, BOB, "It spends 40 minutes in the orders query", thread_ts=root)
    react(app, reply, ALICE)
    app.work(5)
    (prompt,) = app.prompts()
    assert "40 minutes in the orders query" in prompt and "Nightly export is slow" in prompt  # thread context
    run = app.app.bot.store.run_for_thread(GENERAL, root)
    assert run is not None and run.requester == ALICE


def test_other_emoji_start_nothing(app: FakeTimeApp) -> None:
    ts = app.slack.post_as_user(GENERAL, ALICE, "Please look at the flaky test")
    react(app, ts, BOB, "eyes")
    app.work(5)
    assert app.codegen.runs() == []


def test_without_a_trigger_emoji_reactions_start_nothing(make_fake_time_app) -> None:
    app = make_fake_time_app()
    ts = app.slack.post_as_user(GENERAL, ALICE, "Please look at the flaky test")
    react(app, ts, BOB)
    app.work(5)
    assert app.codegen.runs() == []


def test_someone_not_allowed_is_told_and_starts_nothing(make_fake_time_app) -> None:
    app = make_fake_time_app(codegen_slack_trigger_emoji="robot_face", codegen_slack_allowed_users=ALICE)
    ts = app.slack.post_as_user(GENERAL, ALICE, "Please look at the flaky test")
    react(app, ts, BOB)
    app.work(5)
    assert app.codegen.runs() == []
    assert "not on the list" in app.slack.ephemerals(GENERAL, BOB)[0]["text"]


def test_help_names_the_trigger_emoji_and_the_new_commands(app: FakeTimeApp) -> None:
    help_text = app.command("help")
    assert ":robot_face:" in help_text
    assert "/codegen watch add" in help_text and "/codegen schedule add" in help_text
