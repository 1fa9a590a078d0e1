"""Codegen membership as the gate (CODEGEN_SLACK_REQUIRE_CODEGEN_MEMBER), end to end: a member of the
Codegen organization (matched by Slack email) starts runs, a non-member is refused privately and told
why, a Codegen ADMIN changes channel settings, and each run names its requester in its metadata."""

from __future__ import annotations

import pytest

from bot.codegen import CodegenClient
from bot.codegen_members import MISS_REFRESH_SECONDS, CodegenMembers, MembersUnknown
from storage.store import Store
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import WORKSPACE, SlackServer
from tests.test_mentions_and_threads import reply
from tests.test_outsiders import finished_run_by_mention

GENERAL, ALICE, BOB, DEV = "C0GENERAL", "U0ALICE", "U0BOB", "U0DEV"
NOT_A_MEMBER = "found no Codegen account with your Slack email"


@pytest.fixture
def gated(make_app, codegen_api: CodegenServer, slack_server: SlackServer) -> AppUnderTest:
    """The gate on; Alice is a Codegen member, Bob is not, Dev is the organization's Codegen ADMIN."""
    alice = codegen_api.add_user(email="Alice@Example.com", role="MEMBER")
    slack_server.add_user(DEV, "dev", real_name="Dev")  # dev@example.com: the Codegen server's ADMIN
    app = make_app(codegen_slack_require_codegen_member=True)
    members = app.bot.codegen_members
    assert members is not None
    wait_for(lambda: members.known("alice@example.com"), what="the Codegen member list")
    app.alice_codegen_id = alice["id"]  # type: ignore[attr-defined]
    return app


def test_a_members_command_starts_a_run_that_names_its_requester(
    gated: AppUnderTest, codegen_api: CodegenServer
) -> None:
    assert gated.command("fix the flaky login test").content == b""
    run = wait_for(codegen_api.runs, what="Alice's run")[0]
    assert run["metadata"]["slack_user_id"] == ALICE
    assert run["metadata"]["slack_team_id"] == WORKSPACE
    assert run["metadata"]["requester_email"] == "alice@example.com"
    assert run["metadata"]["codegen_user_id"] == gated.alice_codegen_id  # type: ignore[attr-defined]


def test_a_non_members_command_is_refused_privately_saying_why(
    gated: AppUnderTest, codegen_api: CodegenServer
) -> None:
    refused = gated.command("rotate the deploy keys", user=BOB).json()
    assert refused["response_type"] == "ephemeral"
    assert NOT_A_MEMBER in refused["text"] and "Ask a Codegen admin" in refused["text"]
    assert codegen_api.count(path="create_run") == 0


def test_a_non_members_follow_up_does_not_reach_the_run(
    gated: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    event = finished_run_by_mention(gated, slack_server, codegen_api)
    follow_up = reply(slack_server, event["ts"], "and delete the audit log", user=BOB)
    gated.event(follow_up)
    wait_for(
        lambda: [e for e in slack_server.ephemerals(GENERAL, BOB) if NOT_A_MEMBER in str(e["text"])],
        what="Bob's refusal",
    )
    assert not gated.bot.store.has_request(f"message:{GENERAL}:{follow_up['ts']}")  # nothing recorded
    assert codegen_api.count(path="resume_run") == 0


def test_a_codegen_admin_may_change_channel_settings_and_a_member_may_not(
    gated: AppUnderTest, codegen_api: CodegenServer
) -> None:
    refused = gated.command("config notify channel").json()["text"]  # Alice: a Codegen MEMBER
    assert "Only the bot's admins" in refused
    changed = gated.command("config notify channel", user=DEV).json()["text"]
    assert "Only the bot's admins" not in changed and "channel" in changed
    assert "notify" in gated.command("config").json()["text"].lower()


def test_without_the_gate_a_non_member_may_start_a_run(
    app: AppUnderTest, codegen_api: CodegenServer
) -> None:
    assert app.command("rotate the deploy keys", user=BOB).content == b""
    run = wait_for(codegen_api.runs, what="Bob's run")[0]
    assert run["metadata"]["slack_user_id"] == BOB and run["metadata"]["requester_email"] == "bob@example.com"
    assert "codegen_user_id" not in run["metadata"]  # the member list is only read with the gate on
    assert codegen_api.count(path="users") == 0


def test_a_miss_refreshes_the_member_list_at_most_once_a_minute(
    codegen_server: CodegenServer, db_target: str
) -> None:
    clock = codegen_server.clock
    client = CodegenClient(
        base_url=codegen_server.url, token=codegen_server.token, org_id=codegen_server.org_id, clock=clock
    )
    store = Store(db_target)
    members = CodegenMembers(client, clock, store)
    for number in range(150):  # two pages
        codegen_server.add_user(email=f"member{number}@example.com")
    assert members.member("member149@example.com", may_refresh=True) is not None
    assert codegen_server.count(path="users") == 2
    assert members.member("stranger@example.com", may_refresh=True) is None  # a fresh list says no
    clock.advance(MISS_REFRESH_SECONDS / 2)
    codegen_server.add_user(email="new@example.com")
    assert members.member("new@example.com", may_refresh=True) is None  # not asked again so soon
    assert codegen_server.count(path="users") == 2
    clock.advance(MISS_REFRESH_SECONDS)
    with pytest.raises(MembersUnknown):  # the ack path never calls Codegen
        members.member("new@example.com", may_refresh=False)
    assert members.member("new@example.com", may_refresh=True) is not None
    assert codegen_server.count(path="users") == 4
    assert members.is_admin("dev@example.com") and not members.is_admin("new@example.com")
    follower = CodegenMembers(client, clock, store)  # another replica on the same database
    assert follower.is_admin("dev@example.com") and follower.known("new@example.com") is not None
    assert codegen_server.count(path="users") == 4  # it read the leader's list, not Codegen
    store.close()
    client.close()


def test_without_the_email_scope_the_gate_says_it_could_not_check(
    make_app, slack_server: SlackServer, codegen_api: CodegenServer
) -> None:
    slack_server.scopes.discard("users:read.email")  # Slack then leaves profile.email out
    codegen_api.add_user(email="alice@example.com")
    app = make_app(codegen_slack_require_codegen_member=True)
    refused = app.command("fix the flaky login test").json()
    assert "didn't tell me your email" in refused["text"]
    assert codegen_api.count(path="create_run") == 0
