"""The Work Object of a Codegen run link: a Slack Task entity for chat.unfurl's `metadata`; pure functions.

Slack builds a Work Object from this where the app has Work Object Previews on with the Task entity
type (docs.slack.dev/messaging/work-objects-implementation). chat.unfurl needs `unfurls` or
`metadata` and forbids neither together, so the classic blocks go in the same call and a client or
workspace without Work Objects still gets a preview. A run is a Task: its title is the prompt, its
status, assignee (the member who asked), dates and description are Task fields, and the repository
and pull requests are custom fields. Like the classic preview, a Work Object is visible to everyone
in the conversation, so it shows no more than that preview does.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.metadata import (
    EntityAttributes,
    EntityCustomField,
    EntityMetadata,
    EntityPayload,
    EntityStringField,
    EntityTimestampField,
    EntityTitle,
    EntityTypedField,
    EntityUserIDField,
    ExternalRef,
    TaskEntityFields,
)

from bot.render.limits import truncate
from bot.render.messages import status_emoji
from storage.records import RunRecord

TASK = "slack#/entities/task"
EXTERNAL_TYPE = "agent_run"  # Codegen's run ids are unique only among runs
TITLE_CHARS = 120
DESCRIPTION_CHARS = 500  # the Work Object body, like the classic preview, shows an excerpt
PR_LINES = 5
# The tag colours Slack offers (red, yellow, green, gray, blue), by the status emoji the cards use.
_TAG_COLORS = {"⏳": "yellow", "✅": "green", "❌": "red", "🚫": "gray", "🔄": "blue"}
_ORDER = ("status", "assignee", "repository", "pull_requests", "date_created", "date_updated", "description")


def run_entity(run: RunRecord, app_unfurl_url: str, *, ours: bool) -> dict[str, Any]:
    """The Task entity of a run, one item of chat.unfurl's `metadata.entities`.

    `app_unfurl_url` is the link exactly as posted (Slack matches it to the message); `url` is the
    run's page in Codegen. A run the bot started (`ours`) shows its prompt and requester; another
    shows Codegen's summary or result. Dates are UNIX seconds, left out when unknown.
    """
    status = run.status.strip() or "UNKNOWN"
    fields = TaskEntityFields(
        status=EntityStringField(value=truncate(status, 40), tag_color=_TAG_COLORS[status_emoji(status)]),
        description=_description(run, ours),
        assignee=_member(run.requester) if ours and run.requester else None,
        date_created=EntityTimestampField(value=int(run.created_at)) if run.created_at > 0 else None,
        date_updated=EntityTimestampField(value=int(run.changed_at)) if run.changed_at > 0 else None,
    )
    custom = [field for field in (_repository(run), _pull_requests(run)) if field is not None]
    present = set(fields.get_non_null_attributes()) | {field.key for field in custom}
    title = _plain(run.prompt) if ours and run.prompt.strip() else f"Codegen run #{run.run_id}"
    entity = EntityMetadata(
        entity_type=TASK,
        url=run.web_url or app_unfurl_url,
        app_unfurl_url=app_unfurl_url,
        external_ref=ExternalRef(id=str(run.run_id), type=EXTERNAL_TYPE),
        entity_payload=EntityPayload(
            attributes=EntityAttributes(
                title=EntityTitle(text=truncate(title, TITLE_CHARS)),
                display_type="Codegen run",
                display_id=f"#{run.run_id}",
                product_name="Codegen",
                metadata_last_modified=int(run.changed_at) if run.changed_at > 0 else None,
            ),
            fields=fields,
            custom_fields=custom or None,
            display_order=[key for key in _ORDER if key in present],
        ),
    )
    return entity.to_dict()


def _plain(text: str) -> str:
    return " ".join(text.split())


def _description(run: RunRecord, ours: bool) -> EntityStringField | None:
    text = _plain(run.prompt if ours else (run.summary or run.result or ""))
    if not ours:
        text = f"{text}\n\nStarted outside this Slack workspace's bot".strip()
    return EntityStringField(value=truncate(text, DESCRIPTION_CHARS)) if text else None


def _member(user: str) -> EntityTypedField:
    return EntityTypedField(type="slack#/types/user", user=EntityUserIDField(user_id=user))


def _repository(run: RunRecord) -> EntityCustomField | None:
    if not run.repo:
        return None
    return EntityCustomField(key="repository", label="Repository", type="string", value=run.repo)


def _pull_requests(run: RunRecord) -> EntityCustomField | None:
    """The run's pull requests as markdown links, one a line (Slack's arrays cannot hold links)."""
    lines = []
    for pr in run.pull_requests[:PR_LINES]:
        title = truncate(_plain(pr.title or "Pull request"), 120).replace("[", "(").replace("]", ")")
        lines.append(f"[{title}]({pr.url})" if pr.url else title)
    if len(run.pull_requests) > PR_LINES:
        lines.append(f"+{len(run.pull_requests) - PR_LINES} more")
    if not lines:
        return None
    value = "\n".join(lines)
    return EntityCustomField(
        key="pull_requests", label="Pull requests", type="string", value=value, format="markdown", long=True
    )
