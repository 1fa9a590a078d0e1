"""Follow-ups never turn into noise, end to end: side talk is not sent, `mute` / `unmute` (said or
clicked) stop and restore follow-ups and the card shows it, `follow-ups mention` is honoured, and a
group DM's follow-ups work."""

from __future__ import annotations

from typing import Any

from bot.render.controls import MUTE, UNMUTE
from tests.harness import AppUnderTest, wait_for
from tests.interactions import click
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB, CAROL, BOT = "C0GENERAL", "U0ALICE", "U0BOB", "U0CAROL", "UBOT"
app_run_thread: dict[int, str] = {}  # run id → its thread, as start_finished_run made it


def start_finished_run(
    app: AppUnderTest, slack: SlackServer, codegen: CodegenServer, channel: str = GENERAL, kind: str = ""
) -> tuple[int, str]:
    """A run started by Alice's mention, finished, its result posted: ready for follow-ups."""
    text = f"<@{BOT}> refactor the billing module"
    ts = slack.post_as_user(channel, ALICE, text)
    app.event({"type": "app_mention", "channel": channel, "channel_type": kind or "channel", "user": ALICE,
               "text": text, "ts": ts})  # fmt: skip
    run_id = wait_for(codegen.runs, what="the run")[-1]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="the run stored")
    codegen.set_status(run_id, "COMPLETE", result="Done.")
    store = app.bot.store
    app_run_thread[run_id] = ts
    wait_for(lambda: store.get_run(run_id).finished and not store.announcement_due(run_id), what="the result")
    return run_id, ts


def say(app: AppUnderTest, slack: SlackServer, thread_ts: str, text: str, *, user: str = BOB,
        channel: str = GENERAL, kind: str = "channel") -> dict[str, Any]:  # fmt: skip
    """Reply in the thread as `user` and deliver the message event; returns the event."""
    ts = slack.post_as_user(channel, user, text, thread_ts=thread_ts)
    event = {"type": "message", "channel": channel, "channel_type": kind, "user": user, "text": text,
             "ts": ts, "thread_ts": thread_ts}  # fmt: skip
    assert app.event(event).status_code == 200
    return event


def recorded(app: AppUnderTest, event: dict[str, Any]) -> bool:
    """Whether the bot recorded the message as a follow-up (it decides before Slack gets the ack)."""
    return app.bot.store.has_request(f"message:{event['channel']}:{event['ts']}")


def sent_prompts(codegen: CodegenServer, run_id: int) -> list[str]:
    return [r["prompt"] for r in codegen.run_inputs(run_id)["resumes"]]


def card(slack: SlackServer, run_id: int, channel: str = GENERAL) -> dict[str, Any]:
    """The run's status card (in its thread)."""
    thread_ts = app_run_thread[run_id]
    return next(m for m in slack.messages(channel, thread_ts=thread_ts)
                if (m.get("metadata") or {}).get("event_payload", {}).get("run_id") == run_id)  # fmt: skip


def shows(slack: SlackServer, run_id: int, text: str) -> dict[str, Any] | None:
    """The run's card when its blocks contain `text`."""
    found = card(slack, run_id)
    return found if text in str(found["blocks"]) else None


def test_a_reply_to_a_teammate_is_not_sent_nor_acknowledged(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_finished_run(app, slack_server, codegen_api)
    side_talk = say(app, slack_server, ts, f"<@{CAROL}> can you check this with the billing team?")
    assert not recorded(app, side_talk)
    addressed = say(app, slack_server, ts, f"<@{BOT}> <@{CAROL}> says: also update the docs")
    wait_for(lambda: codegen_api.count(path="resume_run") == 1, what="the follow-up to the bot")
    [prompt] = sent_prompts(codegen_api, run_id)
    assert prompt.endswith("says: also update the docs")
    assert recorded(app, addressed)
    assert not slack_server.message(GENERAL, side_talk["ts"]).get("reactions")  # no 👀 on side talk


def test_mute_said_in_the_thread_stops_follow_ups_and_unmute_restores_them(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_finished_run(app, slack_server, codegen_api)
    say(app, slack_server, ts, f"<@{BOT}> mute")
    wait_for(lambda: any("Muted" in e["text"] for e in slack_server.ephemerals(GENERAL, BOB)), what="muted")
    wait_for(lambda: "muted by <@U0BOB>" in str(card(slack_server, run_id)["blocks"]), what="card shows it")
    assert UNMUTE in str(card(slack_server, run_id)["blocks"])
    for text in ("thanks!", f"<@{BOT}> also add tests", "please also update the changelog"):
        assert not recorded(app, say(app, slack_server, ts, text, user=ALICE))
    wait_for(lambda: any("muted by <@U0BOB>" in e["text"] for e in slack_server.ephemerals(GENERAL, ALICE)),
             what="the bot, addressed in a muted thread, to say why nothing was sent")  # fmt: skip
    say(app, slack_server, ts, "unmute", user=ALICE)
    wait_for(lambda: "muted by" not in str(card(slack_server, run_id)["blocks"]), what="card unmuted")
    say(app, slack_server, ts, "now add the migration", user=ALICE)
    wait_for(lambda: codegen_api.count(path="resume_run") == 1, what="the follow-up after unmute")
    assert sent_prompts(codegen_api, run_id) == ["now add the migration"]


def test_the_cards_mute_button_mutes_and_its_unmute_button_unmutes(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    run_id, ts = start_finished_run(app, slack_server, codegen_api)
    click(app, card(slack_server, run_id), MUTE, user=BOB)
    muted = wait_for(lambda: shows(slack_server, run_id, "muted by <@U0BOB>"),
                     what="the card to show who muted")  # fmt: skip
    assert not recorded(app, say(app, slack_server, ts, "looks good to me"))
    click(app, muted, UNMUTE, user=ALICE)
    wait_for(lambda: MUTE in str(card(slack_server, run_id)["blocks"]), what="the card to offer Mute again")
    assert recorded(app, say(app, slack_server, ts, "one more thing: rename the module"))


def test_follow_ups_mention_sends_only_replies_that_mention_the_bot(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    answer = app.command("config follow-ups mention")
    assert "only replies" in answer.json()["text"]
    assert "follow-ups all|mention" in app.command("config").json()["text"]
    assert "follow-ups mention" in app.command("help").json()["text"]
    run_id, ts = start_finished_run(app, slack_server, codegen_api)
    assert not recorded(app, say(app, slack_server, ts, "thanks, looks great"))
    say(app, slack_server, ts, f"<@{BOT}> also add a test for refunds")
    wait_for(lambda: codegen_api.count(path="resume_run") == 1, what="the mention to be sent")
    assert sent_prompts(codegen_api, run_id) == ["also add a test for refunds"]


def test_a_follow_up_in_a_group_dm_reaches_the_run(
    app: AppUnderTest, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    slack_server.add_channel("G0MPIMTEAM", name="mpdm-alice--bob", members=[ALICE, BOB], is_private=True)
    run_id, ts = start_finished_run(app, slack_server, codegen_api, channel="G0MPIMTEAM", kind="mpim")
    assert codegen_api.run_inputs(run_id)["prompt"] == "refactor the billing module"
    say(app, slack_server, ts, "and drop the legacy invoice path", channel="G0MPIMTEAM", kind="mpim")
    wait_for(lambda: codegen_api.count(path="resume_run") == 1, what="the group DM's follow-up")
    assert sent_prompts(codegen_api, run_id) == ["and drop the legacy invoice path"]
