"""Watch rules end to end, in fake time: a CI bot's failure post starts one run in its thread; the same
alert again within the hour is pointed at that run; a rule's hourly cap holds; admins manage rules
and a bad pattern is refused with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from bot.audit_cli import export
from storage.records import JobStatus
from tests.fake_time_app import ALICE, BOB, GENERAL, FakeTimeApp, make_fake_time_app
from tests.servers.codegen_server import CodegenServer

__all__ = ["make_fake_time_app"]

CI_BOT = "B0GITHUB"


@pytest.fixture
def app(make_fake_time_app, codegen_server: CodegenServer) -> FakeTimeApp:
    codegen_server.add_repo("acme/web")
    return make_fake_time_app(codegen_slack_admin_users=ALICE, codegen_slack_watch_runs_per_hour=2)


def ci_post(app: FakeTimeApp, title: str, details: str = "test_login: failed", *, bot: str = CI_BOT) -> str:
    """The CI bot posts a failure as an attachment (empty text, as such bots do); returns its ts."""
    attachments = [{"color": "danger", "title": title, "text": details, "fallback": f"{title}: {details}"}]
    ts = app.slack.post_as_bot(GENERAL, bot, "", attachments=attachments)
    app.event(bot_event(ts, attachments, bot))
    return ts


def bot_event(ts: str, attachments: list[dict[str, Any]], bot: str = CI_BOT) -> dict[str, Any]:
    return {"type": "message", "subtype": "bot_message", "channel": GENERAL, "channel_type": "channel",
            "ts": ts, "text": "", "bot_id": bot, "username": "CI", "attachments": attachments}  # fmt: skip


def thread(app: FakeTimeApp, ts: str) -> list[dict[str, Any]]:
    """The bot's replies in the thread of message `ts`."""
    return [m for m in app.slack.messages(GENERAL, thread_ts=ts)[1:] if m["bot_id"] == app.slack.bot_id]


def test_a_ci_failure_post_starts_one_run_in_its_thread(app: FakeTimeApp) -> None:
    answer = app.command(f'watch add "failed on main" from={CI_BOT} repo=acme/web')
    assert "Watch rule 1 added" in answer

    ts = ci_post(app, "Build #4711 failed on main (a1b2c3d)")
    app.event(bot_event(ts, app.slack.message(GENERAL, ts)["attachments"]))  # Slack delivers it again
    app.work(5)

    assert len(app.codegen.runs()) == 1
    prompt = app.prompts()[0]
    assert "Build #4711 failed on main" in prompt and "test_login: failed" in prompt
    assert f"/archives/{GENERAL}/p{ts.replace('.', '')}" in prompt  # the post's permalink
    run = app.app.bot.store.run_for_thread(GENERAL, ts)
    assert run is not None and run.repo == "acme/web" and run.requester == ALICE
    (status,) = thread(app, ts)  # the run's status message, in the post's thread
    assert "Codegen run" in status["text"]


def test_the_same_alert_again_points_at_the_run_on_it_and_starts_none(app: FakeTimeApp) -> None:
    app.command("watch add failed")
    first = ci_post(app, "Build #4711 failed on main (a1b2c3d)")
    app.work(5)
    app.clock.advance(600)
    again = ci_post(app, "Build #4712 failed on main (e4f5a6b)")  # other numbers, same alert
    app.work(5)

    assert len(app.codegen.runs()) == 1
    (link,) = thread(app, again)
    assert f"p{first.replace('.', '')}" in link["text"] and "already working on it" in link["text"]

    app.clock.advance(3600)  # an hour after the first: a new run for the same alert
    ci_post(app, "Build #4713 failed on main (0c0ffee)")
    app.work(5)
    assert len(app.codegen.runs()) == 2


def test_a_rule_starts_at_most_its_cap_of_runs_an_hour(app: FakeTimeApp) -> None:
    app.command("watch add failed")
    posts = [ci_post(app, f"Deploy of service {name} failed") for name in ("api", "web", "jobs", "mail")]
    app.work(5)

    assert len(app.codegen.runs()) == 2  # CODEGEN_SLACK_WATCH_RUNS_PER_HOUR=2
    (capped,) = thread(app, posts[2])
    assert "Watch rule 1 has already started 2 runs this hour" in capped["text"]
    assert thread(app, posts[3]) == []  # a storm past the cap is said once, not once a post

    app.clock.advance(3601)
    ci_post(app, "Deploy of service search failed")
    app.work(5)
    assert len(app.codegen.runs()) == 3


def test_a_rule_ignores_other_senders_thread_replies_and_the_bots_own_posts(app: FakeTimeApp) -> None:
    app.command(f"watch add failed from={CI_BOT}")
    ci_post(app, "Nightly failed", bot="B0OTHER")  # another bot
    human = app.slack.post_as_user(GENERAL, BOB, "my build failed, help")
    app.event({"type": "message", "channel": GENERAL, "channel_type": "channel", "user": BOB,
               "text": "my build failed, help", "ts": human})  # fmt: skip
    own = app.slack.post_as_bot(GENERAL, app.slack.bot_id, "failed")
    app.event({**bot_event(own, []), "text": "failed", "bot_id": app.slack.bot_id, "user": "UBOT"})
    root = ci_post(app, "Smoke tests passed", "all green")
    reply = app.slack.post_as_user(GENERAL, BOB, "it failed again", thread_ts=root)
    app.event({**bot_event(reply, []), "text": "failed", "thread_ts": root})
    app.work(5)
    assert app.codegen.runs() == []


def test_admins_manage_rules_and_bad_patterns_are_refused(app: FakeTimeApp) -> None:
    assert "Only the bot's admins" in app.command("watch add failed", user=BOB)
    bad = app.command("watch add (?<=x)failed")
    assert "is not a pattern I can use" in bad and "invalid perl operator" in bad
    assert "Watch rule 1 added" in app.command('watch add "error rate|p99 latency" prompt=Look into {text}')

    listed = app.command("watch list", user=BOB)  # anyone may look
    assert "`error rate|p99 latency`" in listed and "Look into {text}" in listed
    assert "no watch rule 7" in app.command("watch remove 7")
    assert "Watch rule 1 removed" in app.command("watch remove 1")
    assert "No watch rules" in app.command("watch list")
    assert "Give the number" in app.command("watch remove latest")


def test_the_prompt_template_gets_the_text_and_permalink(app: FakeTimeApp) -> None:
    app.command("watch add oom prompt=Investigate this incident: {text} (see {permalink}) and add a test.")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*OOMKilled* in pod `worker-7f9c`"}}]
    ts = app.slack.post_as_bot(GENERAL, CI_BOT, "Alert firing", blocks=blocks)
    app.event({**bot_event(ts, []), "text": "Alert firing", "blocks": blocks})
    app.work(5)
    (prompt,) = app.prompts()
    assert prompt.startswith("Investigate this incident: Alert firing\n*OOMKilled* in pod `worker-7f9c`")
    assert prompt.endswith(f"p{ts.replace('.', '')}) and add a test.")


def test_an_alert_deleted_before_its_job_ran_starts_nothing_and_leaves_no_dead_job(app: FakeTimeApp) -> None:
    app.command("watch add failed")
    attachments = [{"title": "Build failed"}]
    ts = app.slack.post_as_bot(GENERAL, CI_BOT, "", attachments=attachments)
    app.slack.delete_as_user(GENERAL, ts)
    app.event(bot_event(ts, attachments))
    app.work(5)
    assert app.codegen.runs() == []
    assert app.app.bot.store.jobs_in((JobStatus.DEAD, JobStatus.RETRYING)) == []


def test_a_watch_command_in_a_mention_points_to_the_slash_command(app: FakeTimeApp) -> None:
    text = "<@UBOT> watch list"
    ts = app.slack.post_as_user(GENERAL, BOB, text)
    app.event({"type": "app_mention", "channel": GENERAL, "user": BOB, "text": text, "ts": ts})
    app.work(5)
    assert app.codegen.runs() == []
    assert "use `/codegen watch …`" in app.slack.ephemerals(GENERAL, BOB)[0]["text"]


def test_adding_and_removing_rules_and_refusals_are_in_the_audit_trail(app: FakeTimeApp) -> None:
    app.command("watch add failed", user=BOB)  # not an admin
    app.command('watch add "deploy failed" from=bot repo=acme/web prompt=Look into {text}')
    app.command("watch remove 1", user=BOB)
    app.command("watch remove 1")
    app.command("watch remove 7")  # no such rule: nothing changed, nothing recorded
    entries = [(e.actor, e.action, e.channel, e.outcome, e.detail) for e in app.app.bot.store.audit_entries()]
    assert entries == [
        (BOB, "watch", GENERAL, "refused", "add a rule: not an admin"),
        (ALICE, "watch", GENERAL, "allowed",
         "rule 1 added: pattern 'deploy failed', from=bot, repo=acme/web, prompt of 16 characters"),
        (BOB, "watch", GENERAL, "refused", "remove rule 1: not an admin"),
        (ALICE, "watch", GENERAL, "allowed", "rule 1 removed"),
    ]  # fmt: skip
    assert "Look into" not in export(app.app.bot.store.audit_entries(), "csv")  # no prompt's text
