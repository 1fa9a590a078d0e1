"""The preview (classic unfurl blocks) of a Codegen run link; pure functions.

A run the bot started shows its status, prompt excerpt, requester, repository and pull requests; a
run started elsewhere, read by id from Codegen, shows what Codegen's API gives (status, summary,
pull requests); a run the bot cannot read says it is not available.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from bot.render.limits import SECTION_TEXT_MAX, truncate
from bot.render.messages import prompt_excerpt, status_emoji
from bot.render.mrkdwn import escape_mrkdwn, slack_link
from storage.records import RunRecord

_RUN_PATH_RE = re.compile(r"^/agent/trace/([0-9]{1,18})/?$")
_PR_LINES = 3


def run_id_of(url: str, domain: str) -> int | None:
    """The run id in a Codegen run link (`https://<domain>/agent/trace/<id>`, also on a subdomain)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (host == domain or host.endswith(f".{domain}")):
        return None
    found = _RUN_PATH_RE.match(parts.path)
    return int(found.group(1)) if found else None


def run_preview(run: RunRecord, *, ours: bool) -> dict[str, Any]:
    """The unfurl of a run: blocks (and fallback text) for chat.unfurl's `unfurls` map."""
    status = escape_mrkdwn(truncate(run.status.strip() or "UNKNOWN", 40))
    lines = [f"{status_emoji(run.status)} *Codegen run #{run.run_id}* · {status}"]
    if ours:
        lines.append(f"> {prompt_excerpt(run.prompt)}")
        where = [f"Asked by <@{run.requester}>"] if run.requester else []
        if run.repo:
            where.append(f"Repo: {escape_mrkdwn(run.repo)}")
        if where:
            lines.append(" · ".join(where))
    else:
        summary = run.summary or run.result
        if summary:
            lines.append(f"> {prompt_excerpt(summary)}")
        lines.append("Started outside this Slack workspace's bot")
    for pr in run.pull_requests[:_PR_LINES]:
        title = escape_mrkdwn(truncate(pr.title or "Pull request", 120))
        lines.append(f"• {slack_link(pr.url, title) if pr.url else title}")
    if len(run.pull_requests) > _PR_LINES:
        lines.append(f"+{len(run.pull_requests) - _PR_LINES} more pull requests")
    text = truncate("\n".join(lines), SECTION_TEXT_MAX)
    return {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def unavailable_preview(run_id: int) -> dict[str, Any]:
    """The unfurl of a run link the bot cannot read."""
    text = f"*Codegen run #{run_id}* · not available (it does not exist, or the bot's token cannot read it)"
    return {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
