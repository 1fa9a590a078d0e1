"""The bot's Slack messages: content users see, and Slack's limits for any input."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from bot.render.command_replies import help_text, run_list_text, run_status_text
from bot.render.messages import RECEIVED_REACTION, SlackMessage, error_text, reaction_for
from bot.render.results import MAX_RESULT_MESSAGES, result_messages
from bot.render.status_card import queued_message, starting_message, status_message
from storage.records import PullRequest, Request, RunRecord
from tests.slack_checks import all_strings, assert_slack_accepts

T0 = 1_800_000_000.0
RUN = RunRecord(
    run_id=42,
    channel="C1",
    thread_ts="1.1",
    requester="U7",
    prompt="Fix the <login> bug & add tests",
    status="ACTIVE",
    repo="acme/web",
    model="claude",
    web_url="https://codegen.com/agent/trace/42",
    created_at=T0,
)
PR = PullRequest(title="Fix login", url="https://github.com/acme/web/pull/9")


def run(**changes: Any) -> RunRecord:
    return dataclasses.replace(RUN, **changes)


def finished(result: str | None = "Done.", status: str = "COMPLETE", **changes: Any) -> RunRecord:
    return run(status=status, result=result, finished_at=T0 + 134, **changes)


def section_texts(messages: list[SlackMessage]) -> str:
    """The text of the messages' section and markdown blocks."""
    return "\n".join(
        block["text"]["text"] if block["type"] == "section" else block["text"]
        for message in messages
        for block in message.blocks
        if block["type"] in ("section", "markdown")
    )


def buttons(message: SlackMessage) -> dict[str, dict[str, Any]]:
    return {
        button["action_id"]: button
        for block in message.blocks
        if block["type"] == "actions"
        for button in block["elements"]
    }


def test_slack_accepts_rejects_what_slack_rejects() -> None:
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3_001}}
    with pytest.raises(SlackObjectFormationError):
        Block.parse(too_long).to_dict()  # type: ignore[union-attr]


def test_status_message_shows_who_what_where_and_how_long() -> None:
    message = status_message(run(pull_requests=(PR,)), now=T0 + 134)
    assert_slack_accepts(message)
    text = section_texts([message])
    assert "🔄 *Codegen run #42* · ACTIVE · 2m 14s" in text
    assert "> Fix the &lt;login&gt; bug &amp; add tests" in text
    context = " ".join(all_strings([b for b in message.blocks if b["type"] == "context"]))
    assert "<@U7>" in context and "acme/web" in context and "claude" in context
    links = buttons(message)
    assert links["open_run"]["url"] == RUN.web_url
    assert links["open_run"]["text"]["text"] == "Open in Codegen"
    assert links["open_pr_0"]["url"] == PR.url
    assert message.metadata == {
        "event_type": "codegen_run_status",
        "event_payload": {"run_id": 42, "status": "ACTIVE"},
    }


@pytest.mark.parametrize(
    ("status", "emoji"),
    [
        ("PENDING", "⏳"),
        ("ACTIVE", "🔄"),
        ("RUNNING", "🔄"),
        ("EVALUATING", "🔄"),
        ("COMPLETE", "✅"),
        ("FAILED", "❌"),
        ("ERROR", "❌"),
        ("CANCELLED", "🚫"),
        ("STOPPED", "🚫"),
    ],
)
def test_status_message_shows_status_with_emoji(status: str, emoji: str) -> None:
    message = status_message(run(status=status), now=T0 + 5)
    assert message.text == f"{emoji} Codegen run #42: {status}"
    assert f"{emoji} *Codegen run #42* · {status} · 5s" in section_texts([message])


def test_finished_run_stops_the_clock() -> None:
    message = status_message(finished(), now=T0 + 10_000)
    assert "· 2m 14s" in section_texts([message])
    long_run = status_message(run(), now=T0 + 3 * 86_400 + 7_200)
    assert "· 3d 2h" in section_texts([long_run])


def test_card_of_a_run_codegen_stopped_answering_about_says_so() -> None:
    checked = run(checked_at=T0 + 60)
    assert "hasn't answered" not in json.dumps(status_message(checked, now=T0 + 120).blocks)
    stale = json.dumps(status_message(checked, now=T0 + 60 + 300).blocks)
    assert f"Codegen hasn't answered since <!date^{int(T0) + 60}^{{time}}|5m 0s ago>" in stale
    done = finished(checked_at=T0 + 60)
    assert "hasn't answered" not in json.dumps(status_message(done, now=T0 + 3600).blocks)


def test_status_message_shows_members_the_prompt_mentions_as_mentions() -> None:
    message = status_message(run(prompt="ask <@U55JD9ND20F> & <@U0GONE|gone> about <this>"), T0)
    assert "> ask <@U55JD9ND20F> &amp; <@U0GONE> about &lt;this&gt;" in section_texts([message])


def test_status_message_shortens_long_prompts() -> None:
    message = status_message(run(prompt="word " * 1_000), now=T0)
    assert_slack_accepts(message)
    quote = next(line for line in section_texts([message]).splitlines() if line.startswith(">"))
    assert quote.endswith("…")
    assert len(quote) <= 205


def test_status_message_with_many_pull_requests_stays_in_one_message() -> None:
    prs = tuple(PullRequest(f"PR {i}", f"https://github.com/a/b/pull/{i}") for i in range(200))
    message = status_message(run(pull_requests=prs), now=T0)
    assert_slack_accepts(message)
    assert len([b for b in buttons(message).values() if "url" in b]) == 25
    assert "+176 more pull requests" in " ".join(all_strings(message.blocks))


def test_queued_and_starting_messages() -> None:
    request = Request(
        id=3,
        key="k",
        kind="create",
        channel="C1",
        thread_ts="1.1",
        user="U7",
        prompt="Add dark mode",
        options={"repo": "acme/web"},
    )
    queued = queued_message(request, position=2, eta_minutes=4)
    starting = starting_message(request)
    for message in (queued, starting):
        assert_slack_accepts(message)
        assert "> Add dark mode" in section_texts([message])
        assert "<@U7>" in " ".join(all_strings(message.blocks))
        assert "acme/web" in " ".join(all_strings(message.blocks))
    assert queued.text == "⏳ Queued — position 2, starts in about 4 min"
    assert starting.text == "🚀 Starting a Codegen agent…"


def test_result_message_for_a_completed_run() -> None:
    messages = result_messages(finished("## Summary\nFixed **login**.", pull_requests=(PR,)))
    assert len(messages) == 1
    [message] = messages
    assert_slack_accepts(message)
    assert message.blocks[0]["text"]["text"] == "✅ Run #42 finished: COMPLETE"
    assert section_texts(messages) == "## Summary\nFixed **login**."  # Slack renders the Markdown
    assert buttons(message)["open_pr_0"]["url"] == PR.url
    assert message.text.startswith("✅ Run #42 finished: COMPLETE")
    assert message.metadata == {
        "event_type": "codegen_run_result",
        "event_payload": {"run_id": 42, "status": "COMPLETE", "part": 1, "parts": 1},
    }


@pytest.mark.parametrize(
    ("record", "text"),
    [
        (finished(None), "The agent finished without a written result."),
        (finished("  ", summary="Short summary."), "Short summary."),
        (finished(None, status="FAILED"), "The agent run failed."),
        (finished("Tests broke.", status="ERROR"), "The agent run failed.\n\nTests broke."),
        (finished(None, status="CANCELLED"), "The agent run was cancelled."),
    ],
)
def test_result_text_when_there_is_little_to_say(record: RunRecord, text: str) -> None:
    [message] = result_messages(record)
    assert_slack_accepts(message)
    assert section_texts([message]) == text


def test_huge_result_is_split_then_shortened_with_a_link_to_codegen() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 80 for i in range(110))
    messages = result_messages(finished(paragraphs[:100_000]))
    assert 1 < len(messages) <= MAX_RESULT_MESSAGES
    for number, message in enumerate(messages, start=1):
        assert_slack_accepts(message)
        assert message.metadata is not None
        assert message.metadata["event_payload"]["part"] == number
        assert message.metadata["event_payload"]["parts"] == len(messages)
    last = messages[-1].blocks[-1]["text"]["text"]
    assert "Result shortened — see the full result in" in last
    assert f"<{RUN.web_url}|Codegen>" in last
    assert section_texts(messages).startswith("Paragraph 0: lorem ipsum")


def test_long_result_that_fits_is_not_shortened() -> None:
    text = "\n\n".join(f"Section {i} " + "x" * 2_000 for i in range(10))
    messages = result_messages(finished(text))
    assert len(messages) > 1
    for message in messages:
        assert_slack_accepts(message)
    shown = section_texts(messages)
    assert "shortened" not in shown
    assert all(f"Section {i} " in shown for i in range(10))


def test_every_pull_request_gets_a_button() -> None:
    prs = tuple(PullRequest(f"PR {i}", f"https://github.com/a/b/pull/{i}") for i in range(200))
    messages = result_messages(finished("Opened many.", pull_requests=prs))
    ids: set[str] = set()
    for message in messages:
        assert_slack_accepts(message)
        ids |= buttons(message).keys()
    assert ids == {"open_run"} | {f"open_pr_{i}" for i in range(200)}


def test_pull_request_titles_and_urls_too_long_for_buttons() -> None:
    prs = (
        PullRequest("A" * 200, "https://github.com/a/b/pull/1"),
        PullRequest("Giant link", "https://x.io/" + "q" * 3_000),
        PullRequest("", "https://github.com/a/b/pull/3"),
    )
    [message] = result_messages(finished("ok", pull_requests=prs))
    assert_slack_accepts(message)
    links = buttons(message)
    assert links["open_pr_0"]["text"]["text"] == "A" * 74 + "…"
    assert "open_pr_1" not in links
    assert "• Giant link — https://x.io/qqq" in section_texts([message])
    assert links["open_pr_2"]["text"]["text"] == "Pull request 3"


@pytest.mark.parametrize(
    "result",
    [
        "x" * 10_000,
        "```python\n" + "print('never closed')\n" * 2_000,
        "intro\n```\n" + ("a" * 5_000 + "\n") * 4 + "```\n" + "```" * 101,
        ("| col | col |\n|---|---|\n" + "| & | < |\n" * 3_000),
        "[link](https://x.io/" + "&" * 2_900 + ")",
    ],
)
def test_result_messages_survive_hostile_results(result: str) -> None:
    messages = result_messages(finished(result))
    assert len(messages) <= MAX_RESULT_MESSAGES
    for message in messages:
        assert_slack_accepts(message)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=2_000),
        st.lists(st.sampled_from(["```", "\n", " ", "word", "&", "<", "*x*", "# h\n"]), max_size=400)
        .map("".join),
    ),
    st.sampled_from(["COMPLETE", "FAILED", "STOPPED", "WEIRD & <NEW>", ""]),
    st.integers(min_value=1, max_value=1_000),
)
def test_result_messages_stay_within_limits_for_any_text(text: str, status: str, size: int) -> None:
    messages = result_messages(finished(text * (1 + 20_000 // (size + len(text))), status=status))
    assert 1 <= len(messages) <= MAX_RESULT_MESSAGES
    for message in messages:
        assert_slack_accepts(message)


def test_error_help_and_reactions() -> None:
    assert error_text("No run #5 <here>") == ":warning: No run #5 &lt;here&gt;"
    help_ = help_text()
    for command in ("/codegen &lt;prompt&gt;", "repo=owner/name", "model=", "/codegen status",
                    "/codegen list", "/codegen help", "mention", "direct message", "thread",
                    "/codegen pr [run id]", "/codegen setup owner/name", "agent=codegen|claude_code",
                    "repo=acme/*", "config my agent"):
        assert command in help_
    assert "<prompt>" not in help_
    assert reaction_for("COMPLETE") == "white_check_mark"
    assert reaction_for("failed") == "x"
    assert reaction_for("ERROR") == "x"
    assert reaction_for("CANCELLED") == "no_entry_sign"
    assert reaction_for("STOPPED") == "no_entry_sign"
    assert RECEIVED_REACTION == "eyes"


def test_run_list_text() -> None:
    runs = [run(run_id=1), finished(run_id=2, prompt="Second <task>")]
    text = run_list_text(runs, now=T0 + 60)
    lines = text.splitlines()
    assert lines[1] == (
        f"• 🔄 <{RUN.web_url}|Run #1> · ACTIVE · 1m 0s · Fix the &lt;login&gt; bug &amp; add tests"
    )
    assert lines[2] == f"• ✅ <{RUN.web_url}|Run #2> · COMPLETE · 2m 14s · Second &lt;task&gt;"
    assert "/codegen &lt;prompt&gt;" in run_list_text([], now=T0)


def test_run_list_text_fits_a_message_however_many_runs() -> None:
    runs = [run(run_id=i, prompt="p " * 100) for i in range(500)]
    text = run_list_text(runs, now=T0)
    assert len(text) <= 3_900
    more = re.search(r"…and (\d+) more\.$", text)
    assert more is not None
    assert len(text.splitlines()) - 2 + int(more.group(1)) == 500


def test_run_status_text() -> None:
    text = run_status_text(finished(pull_requests=(PR,)), now=T0 + 999)
    assert text.splitlines() == [
        f"✅ *<{RUN.web_url}|Run #42>* · COMPLETE · 2m 14s",
        "Asked by <@U7>: Fix the &lt;login&gt; bug &amp; add tests",
        "Repo: acme/web · Model: claude",
        "Pull requests:",
        f"• <{PR.url}|Fix login>",
    ]
    unknown_start = run_status_text(run(created_at=0.0, web_url=None), now=T0)
    assert unknown_start.splitlines()[0] == "🔄 *Run #42* · ACTIVE"


def test_a_prompt_cannot_reorder_or_garble_its_card() -> None:
    spoof = replace(RUN, prompt="review invoice\u202efdp.exe\x00 now\u2066 <@U0ALICE>")
    text = str(status_message(spoof, now=T0).blocks)
    assert "review invoicefdp.exe now <@U0ALICE>" in text  # no override, no NUL; the mention stays
