"""What the bot makes of a Codegen answer about a run: `recorded` follows the watcher's path into
storage, `rendered` builds every view of the stored run and checks each against Slack's limits."""

from __future__ import annotations

import itertools
from typing import Any

from bot.codegen import AgentRun
from bot.render.command_replies import run_list_text, run_status_text
from bot.render.home import home_view
from bot.render.modals import follow_up_modal
from bot.render.results import finished_dm, result_messages, unreachable_channel_message
from bot.render.status_card import status_message
from bot.watcher import pull_requests
from storage.records import RunRecord, StatusCheck, UserPrefs
from storage.store import Store
from tests.slack_checks import assert_slack_accepts, assert_text_fits, assert_view_accepts

GENERAL, ALICE = "C0GENERAL", "U0ALICE"
T0 = 1_800_000_000.0
_ids = itertools.count(1)


def recorded(store: Store, answer: dict[str, Any]) -> RunRecord:
    """The run as the bot knows it after the watcher saw `answer` (an AgentRunResponse body) for a run
    it was watching: parsed, turned into a status check, written and read back from storage."""
    run = AgentRun.model_validate({**answer, "id": next(_ids)})
    store.add_run(
        RunRecord(
            run_id=run.id, channel=GENERAL, thread_ts="1.1", requester=ALICE, prompt="fix the login bug",
            status_ts="1.2", web_url="https://codegen.com/agent/trace/1", created_at=T0, changed_at=T0,
        )
    )
    check = StatusCheck(
        run_id=run.id, next_check_at=T0 + 70, status=run.status, result=run.result, summary=run.summary,
        web_url=run.web_url, pull_requests=pull_requests(run),
    )
    store.record_checks([check], T0 + 60)
    stored = store.get_run(run.id)
    assert stored is not None
    return stored


def rendered(run: RunRecord) -> dict[str, Any]:
    """Everything the bot shows of `run` (card, results, finish DM, channel-gone DM, `/codegen status`
    and `list`, App Home, follow-up modal), each checked against Slack's limits."""
    now = T0 + 120
    shown: dict[str, Any] = {
        "card": status_message(run, now),
        "results": result_messages(run),
        "dm": finished_dm(run),
        "gone": unreachable_channel_message(run, "channel_not_found"),
        "status": run_status_text(run, now),
        "list": run_list_text([run], now),
        "home": home_view([run], UserPrefs(ALICE), now),
        "follow_up": follow_up_modal(run),
    }
    for message in (shown["card"], *shown["results"], shown["dm"]):
        assert_slack_accepts(message)
    for text in (shown["gone"].text, shown["status"], shown["list"]):
        assert_text_fits(text)
    assert_view_accepts(shown["home"])
    assert_view_accepts(shown["follow_up"])
    return shown
