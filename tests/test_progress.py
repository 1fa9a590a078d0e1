"""Live progress: the card shows a working run's latest step, looked up within the run-logs limit."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.codegen import CodegenClient, RateLimits, RunLog
from bot.jobs import Runner
from bot.progress import ProgressDeps, progress_kind
from bot.render.steps import describe_step
from bot.slack_calls import make_web_client
from bot.slack_out import SlackOut
from bot.steps import steps_kind
from storage.records import RunRecord
from storage.store import Store
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL = "C0GENERAL"


THOUGHT = "I need to find where the user data is loaded before changing the cache"


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        (
            {"tool_name": "ripgrep_search", "tool_input": {"query": "getUserData"}, "thought": "Find it"},
            "Searching code (ripgrep_search): 'getUserData' — Find it",
        ),
        (
            {"tool_name": "view_file", "tool_input": {"filepath": "src/app.py"}},
            "Reading (view_file): 'src/app.py'",
        ),
        (
            {"tool_name": "run_command", "tool_input": {"command": "pytest -q"}, "thought": "Run\n tests"},
            "Running (run_command): 'pytest -q' — Run tests",
        ),
        (
            {"tool_name": "create_pr", "tool_input": {"title": "Fix login"}},
            "Working on a pull request (create_pr): 'Fix login'",
        ),
        ({"tool_name": "mystery_tool", "tool_input": {}}, "Using mystery_tool"),
        (  # no known input key: the tool is still named, with what it worked on
            {"tool_name": "grep_tool", "tool_input": {"needle": "TODO", "n": 3}, "thought": "Count TODOs"},
            "Searching code (grep_tool): 'TODO' — Count TODOs",
        ),
        (  # a long thought is shortened so that the line fits
            {"tool_name": "ripgrep_search", "tool_input": {"query": "getUserData"}, "thought": THOUGHT * 3},
            "Searching code (ripgrep_search): 'getUserData' — " + THOUGHT[:70] + "…",
        ),
        (
            {"message_type": "PLAN_EVALUATION", "thought": "First  read the\ntests"},
            "Planning: First read the tests",
        ),
        ({"message_type": "FINAL_ANSWER"}, "Writing the final answer"),
        ({"message_type": "ACTION"}, None),
    ],
)
def test_steps_read_like_what_the_agent_is_doing(entry: dict, line: str | None) -> None:
    assert describe_step(RunLog(agent_run_id=1, **entry)) == line


def test_card_shows_the_latest_step_and_the_step_count(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    app.command("why is the profile page slow?")
    run_id = wait_for(codegen_api.runs, what="the run")[0]["id"]
    codegen_api.add_log(run_id, "PLAN_EVALUATION", thought="Look for the data loader")
    codegen_api.add_log(
        run_id, tool_name="ripgrep_search", tool_input={"query": "getUserData"}, thought="Find the loader"
    )

    def card_text() -> str:
        top = slack_server.messages(GENERAL)
        return str(top[0]["blocks"]) if top else ""

    wait_for(
        lambda: "Searching code (ripgrep_search): 'getUserData' — Find the loader" in card_text(),
        what="the latest step on the card, with the tool and the agent's thought",
    )
    assert "step 2" in card_text()
    codegen_api.set_status(run_id, "COMPLETE", result="Found it.")
    wait_for(lambda: "✅" in card_text(), what="the finished card")
    assert "getUserData" not in card_text() and "2 steps" in card_text()  # a finished run has no "now"


def test_lookups_share_the_logs_limit_fairly_and_leave_room_for_show_steps(
    codegen_server: CodegenServer, slack_server: SlackServer
) -> None:
    clock = codegen_server.clock
    codegen_server.set_limits(logs=6)
    limits = RateLimits.from_counts(log_calls_per_minute=6, clock=clock)
    codegen = CodegenClient(
        base_url=codegen_server.url,
        token=codegen_server.token,
        org_id=codegen_server.org_id,
        limits=limits,
        clock=clock,
    )
    store = Store(":memory:")
    slack = SlackOut(make_web_client(slack_server.bot_token, slack_server.api_url))
    deps = ProgressDeps(store=store, codegen=codegen, clock=clock, poll_seconds=5.0, share=0.8)
    jobs = Runner(store, clock, [progress_kind(deps), steps_kind(store, codegen, slack)])
    root = slack_server.post_as_user(GENERAL, "U0ALICE", "card")
    ids = []
    for _ in range(5):
        run_id = codegen_server.add_run(prompt="p")["id"]
        codegen_server.add_log(run_id, tool_name="ripgrep_search", tool_input={"query": "x"})
        store.add_run(
            RunRecord(
                run_id=run_id,
                channel=GENERAL,
                thread_ts=root,
                requester="U0ALICE",
                prompt="p",
                created_at=clock.now(),
            )
        )
        ids.append(run_id)

    def simulate(seconds: float) -> None:
        end = clock.now() + seconds
        while clock.now() < end:
            clock.advance(min(jobs.drain() or 30.0, 30.0))

    simulate(600)
    lookups = [c for c in codegen_server.calls if c.route == "logs"]
    per_run = Counter(int(c.path.split("/")[-2]) for c in lookups)
    assert set(per_run) == set(ids) and max(per_run.values()) - min(per_run.values()) <= 1
    assert all(c.status == 200 for c in lookups)
    stamps = [c.at for c in lookups]
    assert max(sum(1 for t in stamps if start <= t < start + 60) for start in stamps) <= 4  # 80 % of 6

    store.add_request(
        key="steps",
        kind="steps",
        channel=GENERAL,
        user="U0ALICE",
        prompt="",
        now=clock.now(),
        thread_ts=root,
        run_id=ids[0],
    )
    jobs.drain()  # "Show steps" may use the rest of the limit: answered at once
    assert any("steps of run" in m["text"].lower() for m in slack_server.messages(GENERAL, thread_ts=root))

    store.record_check(ids[0], now=clock.now(), next_check_at=clock.now(), status="COMPLETE")
    before = codegen_server.count(path=f"/agent/run/{ids[0]}/logs")
    simulate(300)
    assert codegen_server.count(path=f"/agent/run/{ids[0]}/logs") == before  # finished: no more lookups
    codegen.close()
