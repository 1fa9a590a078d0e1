"""What the card and private replies say about Stop and muting (pure rendering)."""

from __future__ import annotations

from bot.render.controls import PR_ACTIONS_NOTE, already_finished_text, control_buttons, stop_text
from storage.agent_controls import RunControls, StopRecord
from storage.records import PullRequest, RunRecord

RUN = RunRecord(run_id=7, channel="C0GENERAL", thread_ts="1.0", requester="U0ALICE", prompt="fix it")
WITH_PR = RunRecord(**{**RUN.__dict__, "pull_requests": (PullRequest("Fix", "https://github.com/a/b/pull/1"),)})


def test_each_stop_state_says_exactly_what_was_done() -> None:
    waiting = stop_text(RUN, StopRecord("U0ALICE", "button", 1.0, "waiting"))
    sent = stop_text(RUN, StopRecord("U0ALICE", "button", 1.0, "sent"))
    failed = stop_text(RUN, StopRecord("U0BOB", "slack", 1.0, "failed", "Codegen refused it"))
    assert "no call that cancels a run" in waiting and "will send" in waiting and "pauses" in waiting
    assert sent.startswith("⏹️ Stopped by <@U0ALICE>") and "sent the run one follow-up" in sent
    assert "could not be sent (Codegen refused it)" in failed
    dropped = stop_text(RUN, StopRecord("U0ALICE", "command", 1.0, "dropped"))
    assert "finished before the stop could be sent, so nothing was sent" in dropped
    assert PR_ACTIONS_NOTE not in sent


def test_a_run_with_pull_requests_points_to_the_cards_pr_actions() -> None:
    assert PR_ACTIONS_NOTE in stop_text(WITH_PR, StopRecord("U0ALICE", "command", 1.0, "sent"))
    finished = RunRecord(**{**WITH_PR.__dict__, "status": "COMPLETE"})
    text = already_finished_text(finished)
    assert "already finished (Complete)" in text and "Nothing was sent" in text and PR_ACTIONS_NOTE in text


def test_buttons_follow_the_runs_state() -> None:
    ids = [b["action_id"] for b in control_buttons(RUN, RunControls())]
    assert ids == ["stop_run", "mute_follow_ups"]
    stopped = RunControls(muted_by="U0BOB", stop=StopRecord("U0ALICE", "button", 1.0, "waiting"))
    assert [b["action_id"] for b in control_buttons(RUN, stopped)] == ["unmute_follow_ups"]
