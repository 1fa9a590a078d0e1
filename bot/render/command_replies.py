"""The replies to `/codegen help`, `/codegen list` and `/codegen status`, as mrkdwn text;
pure functions, no I/O."""

from __future__ import annotations

from bot.render.limits import (
    MESSAGE_TEXT_MAX,
    truncate,
)
from bot.render.messages import (
    elapsed_text,
    mention,
    option_texts,
    pr_line,
    prompt_excerpt,
    run_link,
    status_emoji,
    status_label,
)
from storage.records import RunRecord

_LIST_PROMPT_CHARS = 80


def help_text(trigger_emoji: str = "") -> str:
    """The reply to `/codegen help`; with `trigger_emoji`, how reacting with it starts a run."""
    reaction = (
        f" React to a message with :{trigger_emoji}: to send it to Codegen the same way."
        if trigger_emoji
        else ""
    )
    return "\n".join(
        [
            "*Codegen in Slack* — hand a coding task to a Codegen agent.",
            "• `/codegen &lt;prompt&gt;` — start an agent run. Add `repo=owner/name` to pick the"
            " repository, `model=&lt;name&gt;` to pick the model and `agent=codegen|claude_code` to pick"
            " the agent, anywhere in the prompt.",
            "• `repo=acme/web,acme/api` or `repo=acme/*` — one run per repository, followed in one table.",
            "• `/codegen` alone — the same, in a form.",
            "• `/codegen status [run id]` — how a run is doing.",
            "• `/codegen pr [run id]` — act on a run's pull requests: ready for review, back to draft,"
            " close, reopen, stop Codegen on a PR or stop it fixing the checks.",
            "• `/codegen setup owner/name [hint]` — have Codegen work out a repository's setup commands.",
            "• `/codegen list` — recent runs.",
            "• `/codegen repos` — the organization's repositories.",
            "• `/codegen config` — this channel's default repository and agent, where results are"
            " announced, and your own default agent (`/codegen config my agent claude_code`).",
            "• `/codegen config follow-ups mention` — only replies that mention the bot go to a run"
            " (`all`, the default: every reply but side talk that mentions others).",
            "• `/codegen stop [run id]` — ask a run to stop (the id is optional for your latest run here);"
            " the card's ⏹️ Stop button and Slack's own stop button do the same.",
            "• `/codegen watch add &lt;pattern&gt; [from=&lt;app or bot&gt;] [repo=owner/name]"
            " [prompt=&lt;template&gt;]` — admins: a message matching the pattern (alerts, CI posts)"
            " starts a run in its thread; `/codegen watch list`, `/codegen watch remove &lt;n&gt;`.",
            '• `/codegen schedule add "&lt;cron&gt;" &lt;prompt&gt; [repo=owner/name]` — a recurring'
            " run in this channel, in your time zone; `/codegen schedule list`,"
            " `pause &lt;n&gt;`, `resume &lt;n&gt;`, `remove &lt;n&gt;`.",
            "• `/codegen help` — this message.",
            "You can also mention the bot in a channel, send it a direct message, or use"
            " *Send to Codegen* on any message. Reply in a run's thread to send the agent a follow-up;"
            " say `mute` / `unmute` to the bot there to stop or resume sending replies."
            f" Your runs and defaults are in the bot's Home tab.{reaction}",
        ]
    )


def run_list_text(runs: list[RunRecord], now: float) -> str:
    """The reply to `/codegen list`: one line per run, as many as fit in a message."""
    if not runs:
        return "No Codegen runs yet. Start one with `/codegen &lt;prompt&gt;`."
    lines = ["*Recent Codegen runs*"]
    budget = MESSAGE_TEXT_MAX - 40  # room for the "…and N more" line
    for shown, run in enumerate(runs):
        parts = [f"{status_emoji(run.status)} {run_link(run)}", status_label(run.status)]
        elapsed = elapsed_text(run, now)
        if elapsed:
            parts.append(elapsed)
        parts.append(prompt_excerpt(run.prompt, _LIST_PROMPT_CHARS))
        line = "• " + " · ".join(part for part in parts if part)
        if len("\n".join([*lines, line])) > budget:
            lines.append(f"…and {len(runs) - shown} more.")
            break
        lines.append(line)
    return "\n".join(lines)


def run_status_text(run: RunRecord, now: float) -> str:
    """The reply to `/codegen status`."""
    headline = f"{status_emoji(run.status)} *{run_link(run)}* · {status_label(run.status)}"
    elapsed = elapsed_text(run, now)
    lines = [f"{headline} · {elapsed}" if elapsed else headline]
    lines.append(f"Asked by {mention(run.requester)}: {prompt_excerpt(run.prompt)}")
    options = option_texts(run.repo, run.model)
    if options:
        lines.append(" · ".join(options))
    if run.pull_requests:
        lines.append("Pull requests:")
        lines.extend(pr_line(pr, index) for index, pr in enumerate(run.pull_requests))
    return truncate("\n".join(lines), MESSAGE_TEXT_MAX)
