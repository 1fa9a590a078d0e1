"""The Slack bot scopes the code needs, each for the Web API methods and events that use it.

manifest.yml asks for exactly `BOT_SCOPES` (tests/test_manifest.py checks both ways), and
`codegen-slack check` compares them with the scopes the installed token was granted.
"""

from __future__ import annotations

HISTORY = ("channels:history", "groups:history", "im:history", "mpim:history")  # also group DMs

# Each Web API method the bot calls → the scopes it needs (docs.slack.dev, the method's page).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write", "chat:write.public"),  # .public: channels the bot has not joined
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "conversations.open": ("im:write",),
    "conversations.join": ("channels:join",),  # a slash command's channel, so its thread replies arrive
    "conversations.replies": HISTORY,
    "conversations.history": HISTORY,
    "users.info": ("users:read",),
    "team.info": ("team:read",),  # an outsider's team named in their refusal
    "chat.getPermalink": (),  # links to alerts that started runs (watch rules)
    "views.open": (),
    "views.publish": (),
    "agents.sessions.setStatus": ("chat:write",),  # each run is an agent session on its thread
    "assistant.threads.setStatus": ("chat:write",),  # the session's loading text: the latest step
    "chat.unfurl": ("links:write",),  # previews of Codegen run links
    "apps.connections.open": (),  # Socket Mode, with the app-level token (its scope: connections:write)
}
# Each event the manifest subscribes to → the scope that delivers it.
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "app_mention": ("app_mentions:read",),
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "message.im": ("im:history",),
    "message.mpim": ("mpim:history",),
    "agent_session_stopped": (),  # Slack's stop button on a run's agent session
    "link_shared": ("links:read",),  # a Codegen run link was posted: preview it
    "reaction_added": ("reactions:read",),  # the trigger emoji (CODEGEN_SLACK_TRIGGER_EMOJI)
}
# The rest: /codegen and the message shortcut; screenshots downloaded from url_private; members'
# emails in users.info's profile.email (for the Codegen membership gate and each run's metadata); and
# assistant:write, which Slack adds to every app declared as an agent (manifest: features.agent_view).
OTHER_SCOPES = ("commands", "files:read", "users:read.email", "assistant:write")

BOT_SCOPES: frozenset[str] = frozenset(
    {scope for scopes in (*METHOD_SCOPES.values(), *EVENT_SCOPES.values()) for scope in scopes}
    | set(OTHER_SCOPES)
)


def missing_scopes(granted_header: str | None) -> list[str]:
    """The scopes in `BOT_SCOPES` that Slack's `x-oauth-scopes` header (comma-separated) lacks."""
    granted = {scope.strip() for scope in (granted_header or "").split(",")}
    return sorted(BOT_SCOPES - granted)
