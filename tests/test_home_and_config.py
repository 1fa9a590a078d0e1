"""Channel settings (`/codegen config`, `/codegen repos`), where finishes are announced, and the App Home."""

from __future__ import annotations

import time

import pytest
import sqlite_utils
from slack_sdk.models.views import View

from bot.command_text import (
    CONFIG_USAGE,
    ConfigCommand,
    ModalCommand,
    ReposCommand,
    RunCommand,
    UsageError,
    parse_slash_command,
)
from bot.render.home import home_view
from storage.records import PullRequest, RunRecord, UserPrefs
from storage.schema_legacy import _v1
from storage.store import Store
from tests.harness import AppUnderTest, wait_for
from tests.interactions import home_action, suggestions
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOB = "C0GENERAL", "U0ALICE", "U0BOB"


def finish_a_run(app: AppUnderTest, codegen: CodegenServer, slack: SlackServer, text: str = "fix it") -> dict:
    """Start a run in #general as Alice, finish it, and return its announced result message."""
    before = len(codegen.runs())
    app.command(text)
    run_id = wait_for(lambda: codegen.runs()[before:], what="the run")[0]["id"]
    root = wait_for(
        lambda: [m for m in slack.messages(GENERAL) if str(run_id) in m["text"]], what="the card"
    )[0]
    codegen.set_status(run_id, "COMPLETE", result="All done.")
    return wait_for(lambda: slack.messages(GENERAL, thread_ts=root["ts"])[1:], what="the result")[-1]


def dm_messages(slack: SlackServer, user: str) -> list[dict]:
    try:
        return slack.messages(f"D{user[1:]}")
    except KeyError:
        return []


def test_admin_sets_the_channel_default_repository(make_app, codegen_api: CodegenServer) -> None:
    app = make_app(codegen_slack_admin_users=ALICE)
    repo = codegen_api.add_repo("acme/web")
    assert "Default repository: none" in app.command("config").json()["text"]
    refused = app.command("config repo acme/web", user=BOB).json()["text"]
    assert "Only the bot's admins" in refused
    assert "acme/web" in app.command("config repo acme/web").json()["text"]
    assert "`acme/web`" in app.command("config", user=BOB).json()["text"]  # anyone may look

    app.command("fix the login bug", user=BOB)
    run = wait_for(codegen_api.runs, what="the run")[0]
    assert codegen_api.run_inputs(run["id"])["repo_id"] == repo["id"]
    app.command("config repo none")
    assert "none" in app.command("config").json()["text"]


def test_config_names_close_matches_for_an_unknown_repository(
    app: AppUnderTest, codegen_api: CodegenServer
) -> None:
    codegen_api.add_repo("acme/web")
    app.bot.repos.all()  # the cache is warm, as it is once anyone used the repository menu
    text = app.command("config repo acme/wbe").json()["text"]
    assert "acme/web" in text and "no repository" in text
    assert "notify is one of" in app.command("config notify everyone").json()["text"]


def test_a_default_repository_set_before_the_list_loaded_says_it_was_not_checked(
    app: AppUnderTest, codegen_api: CodegenServer
) -> None:
    codegen_api.add_repo("acme/web")
    text = app.command("config repo acme/wbe").json()["text"]  # nobody has loaded the list yet
    assert "acme/wbe" in text and "couldn't check it" in text
    wait_for(lambda: app.bot.repos.cached(), what="the list, loaded in the background")
    again = app.command("config repo acme/wbe").json()["text"]
    assert "no repository" in again and "acme/web" in again


def test_repos_lists_the_organizations_repositories(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    for name in ("acme/web", "acme/api", "acme/infra"):
        codegen_api.add_repo(name)
    app.command("repos", response_url=slack_server.response_url("repos"))
    answer = wait_for(lambda: slack_server.responses("repos"), what="the list")[0]
    assert answer["response_type"] == "ephemeral"
    assert all(name in answer["text"] for name in ("acme/web", "acme/api", "acme/infra"))
    assert "acme/web" in app.command("repos").json()["text"]  # now from the cache, in the ack itself


def test_notify_channel_also_sends_the_result_to_the_channel(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app.command("config notify channel")
    result = finish_a_run(app, codegen_api, slack_server)
    assert result["options"].get("reply_broadcast") in (True, "true", "1")
    assert any(m["ts"] == result["ts"] for m in slack_server.messages(GENERAL))  # seen in the channel
    assert dm_messages(slack_server, ALICE) == []


def test_notify_dm_tells_the_requester_privately(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app.command("config notify dm")
    result = finish_a_run(app, codegen_api, slack_server)
    assert not result["options"].get("reply_broadcast")
    dm = wait_for(lambda: dm_messages(slack_server, ALICE), what="the DM")
    assert len(dm) == 1 and "finished" in dm[0]["text"] and "COMPLETE" in dm[0]["text"]


def test_home_lists_runs_working_first_and_saves_defaults(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    repo = codegen_api.add_repo("acme/web")
    finish_a_run(app, codegen_api, slack_server, "old finished task")
    app.command("new working task")
    wait_for(lambda: len(app.bot.store.runs_for_home(ALICE)) == 2, what="both runs stored")

    app.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home"})
    home = wait_for(lambda: slack_server.views.home.get(ALICE), what="the Home tab")
    View(**home).validate_json()
    text = str(home["blocks"])
    assert text.index("new working task") < text.index("old finished task")
    assert "started" in text and "ago" in text and "https://codegen.com/agent/trace/" in text

    assert [o["value"] for o in suggestions(app, "home_default_repo", "web")] == ["acme/web"]
    home_action(
        app,
        home,
        {
            "type": "external_select",
            "action_id": "home_default_repo",
            "selected_option": {"text": {"type": "plain_text", "text": "acme/web"}, "value": "acme/web"},
        },
    )
    home_action(
        app, home, {"type": "plain_text_input", "action_id": "home_default_model", "value": "claude-opus"}
    )
    wait_for(lambda: "claude-opus" in str(slack_server.views.home[ALICE]["blocks"]), what="the saved model")
    app.command("use my defaults")
    run = wait_for(lambda: len(codegen_api.runs()) == 3 and codegen_api.runs()[-1], what="the third run")
    inputs = codegen_api.run_inputs(run["id"])
    assert (inputs["repo_id"], inputs["model"]) == (repo["id"], "claude-opus")


def test_an_opened_home_tab_follows_its_runs_and_nobody_elses_is_published(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home"})
    wait_for(lambda: "No runs yet" in str(slack_server.views.home.get(ALICE)), what="the empty Home tab")
    app.command("tidy the changelog")
    run_id = wait_for(codegen_api.runs, what="the run")[0]["id"]
    home = lambda: str(slack_server.views.home[ALICE])  # noqa: E731
    wait_for(lambda: f"#{run_id}" in home(), timeout=20, what="the new run on the Home tab")
    codegen_api.set_status(run_id, "COMPLETE", result="Tidied.")
    wait_for(lambda: "COMPLETE" in home(), timeout=20, what="the finish on the Home tab")
    app.command("a run of Bob's", user=BOB)
    wait_for(lambda: len(codegen_api.runs()) == 2, what="Bob's run")
    time.sleep(0.5)
    assert BOB not in slack_server.views.home  # Bob never opened his Home: nothing published for him


def test_dm_on_finish_is_opt_in_from_the_home_tab(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    finish_a_run(app, codegen_api, slack_server, "first")
    time.sleep(0.3)
    assert dm_messages(slack_server, ALICE) == []  # not opted in: no DM

    app.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home"})
    home = wait_for(lambda: slack_server.views.home.get(ALICE), what="the Home tab")
    option = {"text": {"type": "mrkdwn", "text": "DM me"}, "value": "dm_on_finish"}
    home_action(
        app, home, {"type": "checkboxes", "action_id": "home_dm_on_finish", "selected_options": [option]}
    )
    wait_for(
        lambda: "initial_options" in str(slack_server.views.home[ALICE]["blocks"]), what="the box ticked"
    )

    finish_a_run(app, codegen_api, slack_server, "second")
    dm = wait_for(lambda: dm_messages(slack_server, ALICE), what="the DM")
    assert "second" in str(dm[-1]["blocks"]) and len(dm) == 1


def test_home_tab_stays_within_slacks_limits_whatever_it_holds() -> None:
    prs = tuple(PullRequest("t" * 200, f"https://github.com/a/b/pull/{i}") for i in range(100))
    runs = [
        RunRecord(
            run_id=i,
            channel=GENERAL,
            thread_ts="1.1",
            requester=ALICE,
            prompt="<&> " * 3_000,
            repo="r" * 500,
            web_url=f"https://codegen.com/{i}",
            pull_requests=prs,
            created_at=1.0,
        )
        for i in range(40)
    ]
    view = home_view(runs, UserPrefs(ALICE, True, "a/" + "b" * 300, "m" * 300), now=1_000.0)
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100 and sum(1 for b in view["blocks"] if "accessory" in b) == 20
    for block in view["blocks"]:
        assert len(block.get("text", {}).get("text", "")) <= 3_000


def test_a_database_from_before_settings_is_upgraded_in_place(tmp_path) -> None:
    path = str(tmp_path / "old.db")
    old = sqlite_utils.Database(path)
    _v1(old)
    old.execute("PRAGMA user_version = 1")
    old["runs"].insert(
        {
            "run_id": 5,
            "channel": GENERAL,
            "thread_ts": "1.1",
            "requester": ALICE,
            "prompt": "p",
            "status": "ACTIVE",
            "created_at": 1.0,
        }
    )
    old.close()
    store = Store(path)
    assert store.schema_version >= 2
    run = store.get_run(5)
    assert run is not None and (run.latest_step, run.step_count) == (None, 0)
    assert store.channel_settings(GENERAL).notify == "thread" and not store.user_prefs(ALICE).dm_on_finish


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", ModalCommand()),
        ("repos", ReposCommand()),
        ("config", ConfigCommand()),
        ("config repo acme/web", ConfigCommand("repo", "acme/web")),
        ("CONFIG REPO NONE", ConfigCommand("repo", None)),
        ("config notify DM", ConfigCommand("notify", "dm")),
        ("config repo", UsageError(CONFIG_USAGE)),
        ("config repo acme", UsageError("acme doesn't look like owner/name.")),
        ("config the linter to allow tabs", RunCommand("config the linter to allow tabs")),
        ("repos that use lodash: bump it", RunCommand("repos that use lodash: bump it")),
    ],
)
def test_settings_commands_are_told_apart_from_prompts(text: str, command: object) -> None:
    assert parse_slash_command(text) == command
