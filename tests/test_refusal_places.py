"""Where a refusal reaches someone who has no thread to be told in, and what it says: a Home tab's
button is answered by DM; an outsider is told which team Slack sees them in; a reaction that asks the
bot to act is checked like a command, other reactions are left alone."""

from __future__ import annotations

import time

import pytest

from bot.render.home import HOME_CLEAR_DEFAULTS
from tests.harness import AppUnderTest, wait_for
from tests.interactions import click, home_action
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer
from tests.test_home_and_config import dm_messages
from tests.test_outsiders import (
    GENERAL,
    GUEST,
    GUEST_REFUSAL,
    OUTSIDER_REFUSAL,
    PARTNER,
    PARTNER_TEAM,
    failed_run_card,
    refusal_to,
    shared,
)

__all__ = ["shared"]  # the fixture: #general shared with Pat of another company


def test_a_guests_home_button_is_refused_by_dm(
    app: AppUnderTest, slack_server: SlackServer
) -> None:
    slack_server.add_user(GUEST, "gus", guest="multi")
    app.bot.store.set_user_prefs(GUEST, default_model="claude-sonnet")
    view = {"id": "V0HOME", "type": "home", "blocks": []}
    home_action(app, view, {"action_id": HOME_CLEAR_DEFAULTS, "type": "button", "value": "clear"}, user=GUEST)
    dm = wait_for(lambda: dm_messages(slack_server, GUEST), what="the guest's DM")
    assert GUEST_REFUSAL in dm[-1]["text"]
    assert app.bot.store.user_prefs(GUEST).default_model == "claude-sonnet"  # nothing changed


def test_an_outsiders_refusal_names_their_team(
    app: AppUnderTest, shared: SlackServer, codegen_api: CodegenServer
) -> None:
    shared.add_team(PARTNER_TEAM, "Partner & Co")
    card = failed_run_card(app, shared, codegen_api)
    click(app, card, "retry_run", user=PARTNER, team=PARTNER_TEAM)
    note = refusal_to(shared, PARTNER, OUTSIDER_REFUSAL)
    assert "a member of *Partner &amp; Co*" in note and "Ask someone on the team" in note
    assert shared.count("team.info") == 1


def test_an_outsiders_refusal_without_a_team_name_still_says_why(
    app: AppUnderTest, shared: SlackServer, codegen_api: CodegenServer
) -> None:
    card = failed_run_card(app, shared, codegen_api)
    click(app, card, "retry_run", user=PARTNER, team=PARTNER_TEAM)  # team.info: team_not_found
    note = refusal_to(shared, PARTNER, OUTSIDER_REFUSAL)
    assert "a member of" not in note and "Ask someone on the team" in note


def reaction(user: str, name: str, ts: str) -> dict:
    """A reaction_added event as Slack sends it (for a Slack Connect partner: their team)."""
    event = {"type": "reaction_added", "user": user, "reaction": name, "event_ts": f"{time.time():.6f}",
             "item": {"type": "message", "channel": GENERAL, "ts": ts}, "item_user": "U0BOB"}  # fmt: skip
    return {**event, "user_team": PARTNER_TEAM} if user == PARTNER else event


@pytest.mark.parametrize(("name", "refused"), [("codegen", True), ("thumbsup", False)])
def test_an_outsiders_acting_reaction_is_refused_and_other_reactions_are_left_alone(
    make_app, shared: SlackServer, name: str, refused: bool
) -> None:
    app = make_app(codegen_slack_trigger_emoji="codegen")
    ts = shared.post_as_user(GENERAL, "U0BOB", "checkout returns 500")
    app.event(reaction(PARTNER, name, ts))
    if refused:
        refusal_to(shared, PARTNER, OUTSIDER_REFUSAL)
        assert [e.action for e in app.bot.store.audit_entries()] == ["reaction:codegen"]
    else:
        time.sleep(0.3)
        assert not shared.ephemerals(GENERAL, PARTNER) and app.bot.store.audit_entries() == []
