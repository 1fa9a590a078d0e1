"""A loopback double of Slack's Web API for tests and benchmarks.

It speaks the Web API the way slack_sdk's WebClient sends it (POST or GET `/api/<method>`, form or
JSON bodies, `Authorization: Bearer <token>`), keeps channels, threads, reactions, ephemerals and
views in memory, enforces Slack's message limits and per-method rate limits (sliding windows on an
injectable clock), records every call, and lets tests inject errors and delays. `/response/<name>`
captures payloads posted to slash-command `response_url`s.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block

from bot.clock import Clock, SystemClock
from bot.scopes import BOT_SCOPES, EVENT_SCOPES
from tests.servers.slack_agent_api import AgentApi

if TYPE_CHECKING:
    from tests.servers.socket_mode_server import SocketModeServer

WORKSPACE = "T0TEST"  # the team id of the workspace the app is installed in
MAX_TEXT_CHARS = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_BLOCKS_TEXT_CHARS = 13_000  # undocumented; real Slack answers msg_blocks_too_long near here
MAX_BLOCK_ID_CHARS = 255
MAX_BUTTON_TEXT_CHARS = 75
MAX_BUTTON_URL_CHARS = 3_000
BLOCK_TEXT_LIMITS = {"section": 3_000, "header": 150, "markdown": 12_000}
# The markdown block (docs.slack.dev/reference/block-kit/blocks/markdown-block): 12,000 characters,
# which is also the limit for all markdown blocks of one message together.
MAX_MARKDOWN_CHARS = 12_000
# The table block (docs.slack.dev/reference/block-kit/blocks/table-block): sent in `attachments`, one
# per message, at most 100 rows of at most 20 cells, at most 20 column settings.
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20
MAX_TABLE_COLUMN_SETTINGS = 20
TABLE_CELL_TYPES = frozenset({"raw_text", "rich_text"})
BLOCK_ELEMENT_LIMITS = {"context": 10, "actions": 25}
TRIGGER_TTL_SECONDS = 3.0

TIER_2 = (20, 60.0)
TIER_3 = (50, 60.0)
TIER_4 = (100, 60.0)
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "auth.test": TIER_4,
    "apps.connections.open": TIER_2,
    "conversations.open": TIER_2,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "reactions.add": TIER_3,
    "reactions.remove": TIER_3,
    "conversations.join": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.history": TIER_3,
    "conversations.info": TIER_3,
    "team.info": TIER_3,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "views.push": TIER_4,
    "views.publish": TIER_4,
    "users.info": TIER_4,
    "chat.getPermalink": TIER_4,
    "chat.postEphemeral": TIER_4,
    "agents.sessions.setStatus": TIER_3,  # as Slack's SDKs rate it
    "assistant.threads.setStatus": TIER_3,  # "special" in the docs; kept at Tier 3 here
    "chat.unfurl": TIER_3,
    "chat.postMessage": (10, 10.0),  # per channel: about one a second, with short bursts
}
PER_CHANNEL_LIMITS = frozenset({"chat.postMessage"})
_HISTORY = ("channels:history", "groups:history", "im:history", "mpim:history")
# The bot scopes a method needs (any one of them; Slack picks by conversation type, this double does
# not): without one the call answers missing_scope, as Slack does. Methods not listed need none.
NEEDED_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "conversations.replies": _HISTORY,
    "conversations.history": _HISTORY,
    "conversations.open": ("im:write", "mpim:write"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.join": ("channels:join",),
    "users.info": ("users:read",),
    "team.info": ("team:read",),
    "agents.sessions.setStatus": ("chat:write",),
    "assistant.threads.setStatus": ("chat:write", "assistant:write"),
    "chat.unfurl": ("links:write",),
}
APP_TOKEN_SCOPES = ("connections:write",)
POST_OPTIONS = ("reply_broadcast", "unfurl_links", "unfurl_media", "mrkdwn", "icon_emoji",
                "icon_url", "username", "parse", "link_names")
_TRIGGER_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_HTML_ERROR = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"


class SlackError(Exception):
    """A Web API error answer: `{"ok": false, "error": error}`."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


@dataclass(frozen=True)
class Call:
    """One Web API request the server answered."""

    method: str
    params: dict[str, Any]
    ok: bool
    error: str | None
    at: float  # the server clock's now()


@dataclass(frozen=True)
class Views:
    """Snapshot of the views the app published (home tabs by user) and opened (modals, in order)."""

    home: dict[str, dict[str, Any]]
    modals: list[dict[str, Any]]


@dataclass(frozen=True)
class _Reply:
    """An HTTP answer, plus the Slack error it carries (for the call log)."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def json(
        cls, data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> _Reply:
        error = None if data.get("ok") else str(data.get("error"))
        return cls(status, json.dumps(data).encode(), headers=headers or {}, error=error)

    @classmethod
    def failure(cls, error: str, messages: list[str] | None = None) -> _Reply:
        data: dict[str, Any] = {"ok": False, "error": error}
        if messages:
            data["response_metadata"] = {"messages": messages}
        return cls.json(data)

    @classmethod
    def ratelimited(cls, retry_after: int) -> _Reply:
        return cls.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)})

    @classmethod
    def text(cls, status: int, text: str) -> _Reply:
        return cls(status, text.encode(), "text/plain; charset=utf-8", error=None if status == 200 else text)


@dataclass(frozen=True)
class _Fault:
    """A failure queued by `fail_next`."""

    error: str
    http_status: int
    retry_after: int | None

    def reply(self) -> _Reply:
        if self.error == "ratelimited" or self.http_status == 429:
            return _Reply.ratelimited(self.retry_after or 1)
        if self.http_status >= 400:
            page = _HTML_ERROR.format(f"{self.http_status} {self.error}").encode()
            return _Reply(self.http_status, page, "text/html; charset=utf-8", error=self.error)
        return _Reply.failure(self.error)


@dataclass(frozen=True)
class _Content:
    """The validated content fields of a message."""

    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[Any] | None
    metadata: dict[str, Any] | None


@dataclass
class _Message:
    channel: str
    ts: str
    user: str
    text: str
    bot_id: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    blocks: list[dict[str, Any]] | None = None
    attachments: list[Any] | None = None
    metadata: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)
    updates: int = 0
    edited_ts: str | None = None


@dataclass
class _Channel:
    id: str
    name: str
    members: set[str]
    archived: bool = False
    bot_member: bool = True
    is_private: bool = False
    kind: str = "channel"  # or "im" / "mpim"
    dm_user: str | None = None
    top: list[str] = field(default_factory=list)
    messages: dict[str, _Message] = field(default_factory=dict)


@dataclass
class _User:
    id: str
    name: str
    real_name: str
    display_name: str
    is_bot: bool
    tz: str
    team_id: str
    guest: str | None = None  # "multi" (is_restricted) or "single" (is_ultra_restricted)
    stranger: bool = False
    enterprise_id: str | None = None
    email: str | None = None


class SlackServer:
    """Slack's Web API on 127.0.0.1; `start()` it, point `WebClient(base_url=api_url)` at it."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        bot_token: str = "xoxb-test-bot-token",
        app_token: str = "xapp-test-app-token",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        team_id: str = WORKSPACE,
        team_domain: str = "codegen-test",
        scopes: frozenset[str] | set[str] = BOT_SCOPES,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.team_id = team_id
        self.team_domain = team_domain
        self.scopes = set(scopes)  # granted to the bot token; by default those manifest.yml asks for
        self.rate_limits_enabled = True
        self.socket_mode: SocketModeServer | None = None
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._limits = dict(DEFAULT_LIMITS)
        self._windows: dict[tuple[str, ...], deque[float]] = {}
        self._faults: dict[str, deque[_Fault | None]] = {}  # None: let one call through
        self._delays: dict[str, deque[float]] = {}
        self._channels: dict[str, _Channel] = {}
        self._dms: dict[tuple[str, ...], str] = {}
        self._users: dict[str, _User] = {}
        self._teams: dict[str, str] = {team_id: "Codegen Test"}  # team id → name, for team.info
        self._ephemerals: list[dict[str, Any]] = []
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home: dict[str, str] = {}
        self._modals: list[str] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._triggers: dict[str, float] = {}
        self._exchanged: set[str] = set()
        self._last_micros = 0
        self._serial = 0
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "users.info": self._users_info,
            "team.info": self._team_info,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }
        self.agent = AgentApi(self, set(EVENT_SCOPES))  # subscribed: the events manifest.yml lists
        self._handlers.update(self.agent.handlers())
        self.add_user(bot_user_id, "codegen", real_name="Codegen", is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackServer:
        """Listen on a random loopback port, serving from a daemon thread."""
        self._http = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True,
            name="slack-test-server",
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackServer:
        return self if self._http else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        if self._http is None:
            raise RuntimeError("SlackServer is not started")
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The `base_url` for slack_sdk's WebClient."""
        return f"{self.url}/api/"

    # ------------------------------------------------------------------ test setup

    def add_user(
        self,
        id: str,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        is_bot: bool = False,
        tz: str = "America/Los_Angeles",
        team_id: str | None = None,
        guest: Literal["multi", "single"] | None = None,
        stranger: bool = False,
        enterprise_id: str | None = None,
        email: str | None = None,
    ) -> None:
        """Register a member that users.info knows: of this workspace, or with `team_id` of another
        one (a Slack Connect partner's member; `stranger` when they share no channel with the
        workspace's members), a multi- or single-channel `guest`, in the Grid org `enterprise_id`.
        A person's `email` (default `name@example.com`; bots have none) is in their profile when the
        token has users:read.email, as Slack does."""
        with self._lock:
            self._users[id] = _User(
                id, name, real_name or name, display_name or name, is_bot, tz, team_id or self.team_id,
                guest, stranger, enterprise_id, None if is_bot else (email or f"{name}@example.com"),
            )  # fmt: skip

    def add_team(self, id: str, name: str) -> None:
        """Register another workspace team.info knows (a Slack Connect partner's), by id and name."""
        with self._lock:
            self._teams[id] = name

    def team_of(self, user: str) -> str:
        """The team a member belongs to (this workspace's for one users.info does not know)."""
        known = self._users.get(user)
        return known.team_id if known else self.team_id

    def add_channel(
        self,
        id: str,
        *,
        name: str,
        members: list[str] | tuple[str, ...] = (),
        archived: bool = False,
        bot_member: bool = True,
        is_private: bool = False,
    ) -> None:
        """Create a channel; the bot is a member unless `bot_member=False`."""
        with self._lock:
            if id in self._channels:
                raise ValueError(f"channel {id} already exists")
            self._channels[id] = _Channel(id, name, set(members), archived, bot_member, is_private)

    def update_channel(
        self,
        id: str,
        *,
        archived: bool | None = None,
        bot_member: bool | None = None,
        joined: tuple[str, ...] = (),
    ) -> None:
        """Archive/unarchive a channel, add/remove the bot, e.g. in the middle of a run, or have the
        members `joined` join it (such as another company's, once it is shared over Slack Connect)."""
        with self._lock:
            channel = self._channels[id]
            channel.members.update(joined)
            if archived is not None:
                channel.archived = archived
            if bot_member is not None:
                channel.bot_member = bot_member

    def post_as_user(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        *,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Store a human's message (no event is delivered) and return its ts."""
        with self._lock:
            target = self._channels[channel]
            message = _Message(channel, self._next_ts(), user=user, text=text, blocks=blocks,
                               options={"client_msg_id": str(uuid.uuid4())})
            try:
                self._store(target, message, thread_ts, broadcast=False)
            except SlackError as e:
                raise KeyError(f"no thread {thread_ts} in {channel}") from e
            return message.ts

    def post_as_bot(
        self,
        channel: str,
        bot_id: str,
        text: str,
        *,
        attachments: list[dict[str, Any]] | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Store another app's or bot's top-level post, as a `bot_message` (no event is delivered);
        returns its ts."""
        with self._lock:
            message = _Message(channel, self._next_ts(), user="", text=text, bot_id=bot_id,
                               subtype="bot_message", blocks=blocks, attachments=attachments)
            self._store(self._channels[channel], message, None, broadcast=False)
            return message.ts

    def delete_as_user(self, channel: str, ts: str) -> None:
        """A person deletes their message (no event is delivered): a thread parent stays as a
        tombstone, which, as in Slack, can no longer be reacted to (message_not_found)."""
        with self._lock:
            target = self._channels[channel]
            message = target.messages[ts]
            if message.replies:
                message.subtype, message.text = "tombstone", "This message was deleted."
                message.blocks = message.attachments = message.metadata = None
                return
            del target.messages[ts]
            if ts in target.top:
                target.top.remove(ts)
            if message.thread_ts and message.thread_ts != ts:
                target.messages[message.thread_ts].replies.remove(ts)

    def add_file(self, name: str, content: bytes, mimetype: str, *, user: str = "U0ALICE") -> dict[str, Any]:
        """An uploaded file: returns its file object for events; `url_private` serves `content` to
        requests bearing the bot token (others get an HTML login page, as from Slack)."""
        with self._lock:
            file_id = f"F0TEST{self._next_serial():04d}"
            self._files[file_id] = (content, mimetype)
        url = f"{self.url}/files/{file_id}/{quote(name)}"
        return {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "size": len(content),
                "user": user, "url_private": url, "url_private_download": f"{url}?download=1"}

    def response_url(self, name: str) -> str:
        """A response_url for a slash-command payload; read what was posted with `responses(name)`."""
        with self._lock:
            self._responses.setdefault(name, [])
        return f"{self.url}/response/{quote(name, safe='')}"

    def trigger_id(self) -> str:
        """A trigger_id that views.open/views.push accept once, within 3 seconds (on the clock)."""
        with self._lock:
            trigger = f"{self._next_serial()}.{int(self.clock.now())}.{uuid.uuid4().hex}"
            self._triggers[trigger] = self.clock.monotonic()
            return trigger

    def set_limit(self, method: str, count: int, window_seconds: float) -> None:
        """Allow `count` calls of `method` per sliding window (per channel for chat.postMessage)."""
        with self._lock:
            self._limits[method] = (count, window_seconds)
            self._windows = {k: v for k, v in self._windows.items() if k[0] != method}

    def fail_next(
        self,
        method: str,
        error: str,
        count: int = 1,
        *,
        http_status: int = 200,
        retry_after: int | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next `count` calls of `method` with `error` (after letting `after` calls through).

        "ratelimited" (or http_status=429) answers 429 with Retry-After (`retry_after`, default 1);
        another http_status >= 400 answers an HTML error page, as Slack's load balancers do.
        """
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend([None] * after)
            queue.extend(_Fault(error, http_status, retry_after) for _ in range(count))

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Sleep (for real) `seconds` before answering the next `count` calls of `method`."""
        with self._lock:
            self._delays.setdefault(method, deque()).extend([seconds] * count)

    # ------------------------------------------------------------------ inspection

    def count(self, method: str, ok: bool | None = None) -> int:
        """How many calls of `method` were answered (only successful/failed ones if `ok` is given)."""
        with self._lock:
            return sum(1 for c in self.calls if c.method == method and (ok is None or c.ok == ok))

    def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Top-level messages of `channel`, or the thread's parent and replies; oldest first.

        Each is the Web API's message dict plus, always present: thread_ts, blocks, metadata,
        bot_id (None for humans), reactions ({name: [user ids]}), updates (chat.update count) and
        options (unfurl_links, mrkdwn, reply_broadcast, ... as posted). Treat them as read-only.
        """
        with self._lock:
            target = self._channels[channel]
            if thread_ts is None:
                stamps = target.top
            else:
                found = target.messages.get(thread_ts)
                root = target.messages[found.thread_ts or found.ts] if found else None
                stamps = [root.ts, *root.replies] if root else []
            return [self._record(target.messages[ts]) for ts in stamps]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """One stored message; KeyError if there is none."""
        with self._lock:
            return self._record(self._channels[channel].messages[ts])

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages posted, oldest first, optionally only those in `channel` / to `user`."""
        with self._lock:
            return [dict(e) for e in self._ephemerals
                    if channel in (None, e["channel"]) and user in (None, e["user"])]

    def responses(self, name: str) -> list[dict[str, Any]]:
        """Payloads posted to `response_url(name)`, oldest first."""
        with self._lock:
            return list(self._responses[name])

    @property
    def views(self) -> Views:
        """Published home tabs by user and opened/pushed modals (as last updated)."""
        with self._lock:
            return Views(
                home={user: dict(self._views[vid]) for user, vid in self._home.items()},
                modals=[dict(self._views[vid]) for vid in self._modals],
            )

    # ------------------------------------------------------------------ request handling

    def _handle_api(self, method: str, query: str, headers: dict[str, str], body: bytes) -> _Reply:
        with self._lock:
            delays = self._delays.get(method)
            delay = delays.popleft() if delays else 0.0
        if delay:
            time.sleep(delay)
        params: dict[str, Any] = {}
        with self._lock:
            try:
                params = _parse_params(query, headers.get("content-type", ""), body)
                form_token = str(params.pop("token", "") or "")
                token = _bearer(headers.get("authorization", "")) or form_token
                reply = self._answer(method, params, token)
            except SlackError as e:
                reply = _Reply.failure(e.error, e.messages)
            self.calls.append(Call(method, params, reply.error is None, reply.error, self.clock.now()))
            return reply

    def _answer(self, method: str, params: dict[str, Any], token: str) -> _Reply:
        handler = self._handlers.get(method)
        if handler is None:
            return _Reply.failure("unknown_method")
        faults = self._faults.get(method)
        fault = faults.popleft() if faults else None
        if fault is not None:
            return fault.reply()
        self._authenticate(method, token)
        granted = APP_TOKEN_SCOPES if token == self.app_token else sorted(self.scopes)
        scopes = {"x-oauth-scopes": ",".join(granted)}  # Slack names a token's scopes in every answer
        needed = NEEDED_SCOPES.get(method, ())
        if needed and not set(needed) & set(granted):
            missing = {"error": "missing_scope", "needed": ",".join(needed), "provided": ",".join(granted)}
            return _Reply.json({"ok": False, **missing}, headers=scopes)
        retry_after = self._rate_limited(method, params)
        if retry_after is not None:
            return _Reply.ratelimited(retry_after)
        return _Reply.json({"ok": True, **handler(params)}, headers=scopes)

    def _serve_file(self, path: str, authorization: str) -> _Reply:
        with self._lock:
            found = self._files.get(path.split("/")[2])
        if found is None:
            return _Reply.text(404, "file_not_found")
        if _bearer(authorization) != self.bot_token:
            return _Reply(200, _HTML_ERROR.format("Sign in to Slack").encode(), "text/html; charset=utf-8")
        return _Reply(200, found[0], found[1])

    def _handle_response_url(self, name: str, body: bytes) -> _Reply:
        with self._lock:
            if name not in self._responses:
                return _Reply.text(404, "no_service")
            try:
                payload = json.loads(body or b"null")
            except ValueError:
                return _Reply.text(400, "invalid_payload")
            if not isinstance(payload, dict):
                return _Reply.text(400, "invalid_payload")
            if not _flag(payload.get("delete_original")):
                try:
                    _message_content(payload)
                except SlackError as e:
                    return _Reply.text(400, e.error)
            self._responses[name].append(payload)
            return _Reply.text(200, "ok")

    def _authenticate(self, method: str, token: str) -> None:
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            raise SlackError("not_authed")
        if token != expected:
            known = token in (self.app_token, self.bot_token)
            raise SlackError("not_allowed_token_type" if known else "invalid_auth")

    def _rate_limited(self, method: str, params: dict[str, Any]) -> int | None:
        """Seconds to wait if this call is over its limit; otherwise count it and return None."""
        limit = self._limits.get(method)
        if not self.rate_limits_enabled or limit is None:
            return None
        count, window = limit
        key = (method, str(params.get("channel", ""))) if method in PER_CHANNEL_LIMITS else (method,)
        hits = self._windows.setdefault(key, deque())
        now = self.clock.monotonic()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= count:
            return max(1, math.ceil(hits[0] + window - now))
        hits.append(now)
        return None

    # ------------------------------------------------------------------ store helpers

    def _next_ts(self) -> str:
        micros = max(self._last_micros + 1, int(self.clock.now() * 1_000_000))
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _channel(self, channel_id: Any) -> _Channel:
        channel = self._channels.get(str(channel_id or ""))
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def _readable(self, channel_id: Any) -> _Channel:
        channel = self._channel(channel_id)
        if not channel.bot_member:
            raise SlackError("not_in_channel")
        return channel

    def _writable(self, channel_id: Any) -> _Channel:
        channel = self._readable(channel_id)
        if channel.archived:
            raise SlackError("is_archived")
        return channel

    def _find(self, channel: _Channel, ts: Any, error: str = "message_not_found") -> _Message:
        message = channel.messages.get(str(ts or ""))
        if message is None:
            raise SlackError(error)
        return message

    def _own(self, channel: _Channel, ts: Any, error: str) -> _Message:
        message = self._find(channel, ts)
        if message.bot_id != self.bot_id:
            raise SlackError(error)
        return message

    def _root(self, channel: _Channel, ts: Any, error: str) -> _Message:
        message = self._find(channel, ts, error)
        if message.thread_ts and message.thread_ts != message.ts:
            return channel.messages[message.thread_ts]
        return message

    def _store(self, channel: _Channel, message: _Message, thread_ts: Any, *, broadcast: bool) -> None:
        if thread_ts:
            parent = self._root(channel, thread_ts, "invalid_thread_ts")
            parent.thread_ts = parent.ts
            parent.replies.append(message.ts)
            message.thread_ts = parent.ts
            if broadcast:
                message.subtype = "thread_broadcast"
                channel.top.append(message.ts)
        else:
            channel.top.append(message.ts)
        channel.messages[message.ts] = message

    def _dm(self, users: list[str]) -> tuple[str, bool]:
        """The DM (one user) or group DM channel with `users`, and whether it existed already."""
        key = tuple(sorted(set(users)))
        existing = self._dms.get(key)
        if existing:
            return existing, True
        is_im = len(key) == 1
        channel_id = f"D{key[0][1:]}" if is_im else f"G0MPIM{self._next_serial()}"
        self._channels[channel_id] = _Channel(
            channel_id, "", {*key, self.bot_user_id}, is_private=True,
            kind="im" if is_im else "mpim", dm_user=key[0] if is_im else None,
        )
        self._dms[key] = channel_id
        return channel_id, False

    def _render(self, message: _Message, *, with_metadata: bool) -> dict[str, Any]:
        """A message as the Web API returns it."""
        team = self.team_of(message.user) if message.user and not message.bot_id else self.team_id
        out: dict[str, Any] = {"type": "message", "ts": message.ts, "user": message.user,
                               "text": message.text, "team": team}
        if not message.bot_id:
            out["user_team"] = team
        if message.bot_id:
            out.update(bot_id=message.bot_id, app_id=self.app_id)
        optional = {"subtype": message.subtype, "thread_ts": message.thread_ts,
                    "blocks": message.blocks, "attachments": message.attachments}
        out.update({k: v for k, v in optional.items() if v is not None})
        if message.edited_ts:
            out["edited"] = {"user": message.user, "ts": message.edited_ts}
        if message.replies:
            thread = self._channels[message.channel].messages
            repliers = sorted({thread[ts].user for ts in message.replies})
            out.update(reply_count=len(message.replies), reply_users=repliers,
                       reply_users_count=len(repliers), latest_reply=message.replies[-1])
        if message.reactions:
            out["reactions"] = [{"name": n, "users": list(u), "count": len(u)}
                                for n, u in message.reactions.items()]
        if with_metadata and message.metadata is not None:
            out["metadata"] = message.metadata
        return out

    def _record(self, message: _Message) -> dict[str, Any]:
        """A message for test inspection: API fields plus reactions by name and update count."""
        out = self._render(message, with_metadata=True)
        out.update(thread_ts=message.thread_ts, blocks=message.blocks, metadata=message.metadata,
                   bot_id=message.bot_id, updates=message.updates, options=dict(message.options),
                   reactions={n: list(u) for n, u in message.reactions.items()})
        return out

    # ------------------------------------------------------------------ methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"https://{self.team_domain}.slack.com/", "team": "Codegen Test",
                "user": self._users[self.bot_user_id].name, "team_id": self.team_id,
                "user_id": self.bot_user_id, "bot_id": self.bot_id, "app_id": self.app_id,
                "is_enterprise_install": False}

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_mode is None:  # Slack hands out a URL to any valid app token; nobody serves this one
            return {"url": f"ws://127.0.0.1:9/link/?ticket=unattached&app_id={self.app_id}"}
        return {"url": self.socket_mode.url}

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = params.get("channel")
        if channel_id in self._users:  # posting to a user ID goes to the app's DM with them
            channel_id, _ = self._dm([str(channel_id)])
        channel = self._channel(channel_id)
        public_post = not channel.is_private and "chat:write.public" in self.scopes  # without joining
        if not (channel.bot_member or public_post):
            raise SlackError("not_in_channel")
        if channel.archived:
            raise SlackError("is_archived")
        content = _message_content(params)
        message = _Message(
            channel.id, self._next_ts(), user=self.bot_user_id, bot_id=self.bot_id, text=content.text or "",
            blocks=content.blocks, attachments=content.attachments, metadata=content.metadata,
            options={k: params[k] for k in POST_OPTIONS if k in params},
        )
        self._store(channel, message, params.get("thread_ts"),
                    broadcast=_flag(params.get("reply_broadcast")))
        return {"channel": channel.id, "ts": message.ts,
                "message": self._render(message, with_metadata=True)}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._own(channel, params.get("ts"), "cant_update_message")
        self._writable(channel.id)
        content = _message_content(params)
        if content.text is not None:
            message.text = content.text
        if content.blocks is not None:
            message.blocks = content.blocks
        if content.attachments is not None:
            message.attachments = content.attachments
        if content.metadata is not None:
            message.metadata = content.metadata
        message.updates += 1
        message.edited_ts = self._next_ts()
        return {"channel": channel.id, "ts": message.ts, "text": message.text,
                "message": self._render(message, with_metadata=True)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(params.get("channel"))
        user = str(params.get("user") or "")
        if user not in self._users:
            raise SlackError("user_not_found")
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        content = _message_content(params)
        ts = self._next_ts()
        self._ephemerals.append({
            "channel": channel.id, "user": user, "text": content.text, "blocks": content.blocks,
            "attachments": content.attachments, "thread_ts": params.get("thread_ts"),
            "message_ts": ts,
        })
        return {"message_ts": ts}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._own(channel, params.get("ts"), "cant_delete_message")
        if message.replies:  # a thread parent leaves a tombstone so the replies stay reachable
            message.subtype, message.text = "tombstone", "This message was deleted."
            message.blocks = message.attachments = message.metadata = None
        else:
            del channel.messages[message.ts]
            if message.ts in channel.top:
                channel.top.remove(message.ts)
            if message.thread_ts and message.thread_ts != message.ts:
                channel.messages[message.thread_ts].replies.remove(message.ts)
        return {"channel": channel.id, "ts": message.ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._find(channel, params.get("message_ts"))
        link = (f"https://{self.team_domain}.slack.com/archives/{channel.id}/"
                f"p{message.ts.replace('.', '')}")
        if message.thread_ts and message.thread_ts != message.ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _reaction_target(self, params: dict[str, Any]) -> tuple[_Message, str]:
        channel = self._channel(params.get("channel"))
        if channel.archived:
            raise SlackError("is_archived")
        message = self._find(channel, params.get("timestamp"))
        if message.subtype == "tombstone":
            raise SlackError("message_not_found")
        name = str(params.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        return message, name

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        message, name = self._reaction_target(params)
        users = message.reactions.setdefault(name, [])
        if self.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(self.bot_user_id)
        return {}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        message, name = self._reaction_target(params)
        users = message.reactions.get(name, [])
        if self.bot_user_id not in users:
            raise SlackError("no_reaction")
        users.remove(self.bot_user_id)
        if not users:
            del message.reactions[name]
        return {}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params.get("channel"))
        root = self._root(channel, params.get("ts"), "thread_not_found")
        replies = [channel.messages[ts] for ts in root.replies]
        thread = [root, *(m for m in replies if _in_range(m.ts, params))]
        return self._page(thread, params, default_limit=1000)

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params.get("channel"))
        newest_first = [channel.messages[ts] for ts in reversed(channel.top)]
        return self._page([m for m in newest_first if _in_range(m.ts, params)], params,
                          default_limit=100)

    def _page(self, items: list[_Message], params: dict[str, Any], default_limit: int) -> dict:
        try:
            limit = min(max(int(params.get("limit") or default_limit), 1), 1000)
            start = int(base64.b64decode(params["cursor"]).decode().split(":")[1]) \
                if params.get("cursor") else 0
        except (ValueError, IndexError) as e:
            raise SlackError("invalid_cursor") from e
        end = start + limit
        with_metadata = _flag(params.get("include_all_metadata"))
        next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
        return {"messages": [self._render(m, with_metadata=with_metadata) for m in items[start:end]],
                "has_more": bool(next_cursor), "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            channel_id, existed = self._channel(params["channel"]).id, True
        else:
            raw = params.get("users") or ""
            users = [u.strip() for u in (raw if isinstance(raw, list) else str(raw).split(",")) if u]
            if not users:
                raise SlackError("users_list_not_supplied")
            if any(u not in self._users for u in users):
                raise SlackError("user_not_found")
            channel_id, existed = self._dm(users)
        channel = self._channel_info(self._channels[channel_id]) if _flag(params.get("return_im")) \
            else {"id": channel_id}
        return {"no_op": existed, "already_open": existed, "channel": channel}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        if channel.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.archived:
            raise SlackError("is_archived")
        channel.bot_member = True
        return {"channel": {"id": channel.id, "name": channel.name, "is_member": True}}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel_info(self._channel(params.get("channel")))}

    def _channel_info(self, channel: _Channel) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": channel.id, "name": channel.name, "is_channel": channel.kind == "channel",
            "is_group": False, "is_im": channel.kind == "im", "is_mpim": channel.kind == "mpim",
            "is_private": channel.is_private, "is_archived": channel.archived,
            "is_member": channel.bot_member, "num_members": len(channel.members),
        }
        if channel.dm_user:
            info["user"] = channel.dm_user
        return info

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        offset = ZoneInfo(user.tz).utcoffset(datetime.fromtimestamp(self.clock.now(), UTC))
        record: dict[str, Any] = {
            "id": user.id, "team_id": user.team_id, "name": user.name, "real_name": user.real_name,
            "deleted": False, "is_bot": user.is_bot, "tz": user.tz,
            "is_restricted": user.guest is not None, "is_ultra_restricted": user.guest == "single",
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": {"display_name": user.display_name, "real_name": user.real_name,
                        "display_name_normalized": user.display_name,
                        "real_name_normalized": user.real_name},
        }
        if user.email and "users:read.email" in self.scopes:
            record["profile"]["email"] = user.email
        if user.stranger:
            record["is_stranger"] = True
        if user.enterprise_id:
            record["enterprise_user"] = {"id": user.id, "enterprise_id": user.enterprise_id,
                                         "is_admin": False, "is_owner": False, "teams": [user.team_id]}
        return {"user": record}

    def _team_info(self, params: dict[str, Any]) -> dict[str, Any]:
        team = str(params.get("team") or self.team_id)
        if team not in self._teams:
            raise SlackError("team_not_found")
        domain = self.team_domain if team == self.team_id else team.lower()
        return {"team": {"id": team, "name": self._teams[team], "domain": domain,
                         "email_domain": "", "icon": {"image_default": True}}}

    def _exchange_trigger(self, params: dict[str, Any]) -> None:
        trigger = str(params.get("trigger_id") or params.get("interactivity_pointer") or "")
        if not _TRIGGER_FORMAT.match(trigger):
            raise SlackError("invalid_trigger_id")
        if trigger in self._exchanged:
            raise SlackError("exchanged_trigger_id")
        issued = self._triggers.get(trigger)
        if issued is not None and self.clock.monotonic() - issued > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")
        self._exchanged.add(trigger)

    def _save_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        """Store `view` under `view_id` (a new id if None) with the fields Slack adds."""
        view_id = view_id or f"V0TEST{self._next_serial():04d}"
        stored = {**view, "id": view_id, "team_id": self.team_id, "app_id": self.app_id,
                  "bot_id": self.bot_id, "hash": f"{int(self.clock.now())}.{uuid.uuid4().hex[:8]}",
                  "root_view_id": view_id, "previous_view_id": None, "state": {"values": {}}}
        self._views[view_id] = stored
        return stored

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = _view_payload(params, {"modal"})
        self._exchange_trigger(params)
        stored = self._save_view(view)
        self._modals.append(stored["id"])
        return {"view": stored}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next((v["id"] for v in self._views.values()
                            if v.get("external_id") == params["external_id"]), None)
        current = self._views.get(str(view_id or ""))
        if current is None:
            raise SlackError("not_found")
        view = _view_payload(params, {current["type"]})
        return {"view": self._replace_view(current, view, params)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id") or "")
        if user not in self._users:
            raise SlackError("user_not_found")
        view = _view_payload(params, {"home"})
        current = self._views.get(self._home.get(user, ""))
        if current is not None:
            return {"view": self._replace_view(current, view, params)}
        stored = self._save_view(view)
        self._home[user] = stored["id"]
        return {"view": stored}

    def _replace_view(self, current: dict[str, Any], view: dict[str, Any],
                      params: dict[str, Any]) -> dict[str, Any]:
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        return self._save_view(view, current["id"])


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, slack: SlackServer) -> None:
        self.slack = slack
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out (see delay_next) hang up; that is not a server error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections end

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        slack = self.server.slack
        if url.path.startswith("/api/"):
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = slack._handle_api(url.path.removeprefix("/api/"), url.query, headers, body)
        elif url.path.startswith("/files/"):
            reply = slack._serve_file(url.path, self.headers.get("Authorization") or "")
        elif url.path.startswith("/response/"):
            reply = slack._handle_response_url(unquote(url.path.removeprefix("/response/")), body)
        else:
            reply = _Reply.text(404, "not_found")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


# ---------------------------------------------------------------------- request parsing


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Query string plus a form-encoded or JSON body, as one dict."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError as e:
            raise SlackError("invalid_json") from e
        if not isinstance(data, dict):
            raise SlackError("invalid_json")
        params.update(data)
    elif kind in ("application/x-www-form-urlencoded", ""):
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    else:
        raise SlackError("invalid_form_data")
    return params


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _flag(value: Any) -> bool:
    """Slack booleans: true/1 in JSON, "true"/"1" in forms."""
    return str(value).lower() in ("1", "true")


def _json_field(params: dict[str, Any], name: str, error: str) -> Any:
    """A field that may arrive as a JSON string (form bodies) or as JSON already."""
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError as e:
            raise SlackError(error) from e
    return value


def _ts_micros(ts: str, error: str) -> int:
    seconds, _, fraction = str(ts).partition(".")
    try:
        return int(seconds) * 1_000_000 + int((fraction or "0").ljust(6, "0")[:6])
    except ValueError as e:
        raise SlackError(error) from e


def _in_range(ts: str, params: dict[str, Any]) -> bool:
    """Whether `ts` lies between the `oldest` and `latest` params (`inclusive` at the ends)."""
    inclusive = _flag(params.get("inclusive"))
    key = _ts_micros(ts, "invalid_ts")
    if params.get("oldest"):
        oldest = _ts_micros(params["oldest"], "invalid_ts_oldest")
        if key < oldest or (key == oldest and not inclusive):
            return False
    if params.get("latest"):
        latest = _ts_micros(params["latest"], "invalid_ts_latest")
        if key > latest or (key == latest and not inclusive):
            return False
    return True


# ---------------------------------------------------------------------- content validation


def _message_content(params: dict[str, Any]) -> _Content:
    """Validate text, blocks, attachments and metadata against Slack's message limits."""
    text = None if params.get("text") is None else str(params["text"])
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise SlackError("msg_too_long")
    blocks = _json_field(params, "blocks", "invalid_blocks_format")
    if blocks is not None:
        if not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        problem = _blocks_problem(blocks, MAX_MESSAGE_BLOCKS)
        if problem:
            raise SlackError("invalid_blocks", problem)
        if _text_chars(blocks) > MAX_BLOCKS_TEXT_CHARS:
            raise SlackError("msg_blocks_too_long")
        if any(isinstance(b, dict) and b.get("type") == "table" for b in blocks):
            raise SlackError("invalid_blocks", "[ERROR] a table goes in attachments [json-pointer:/blocks]")
    attachments = _json_field(params, "attachments", "invalid_attachments")
    if attachments is not None:
        problem = _attachments_problem(attachments)
        if problem:
            raise SlackError("invalid_attachments", problem)
    metadata = _json_field(params, "metadata", "invalid_metadata_format")
    if metadata is not None and not (
        isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")
    if not (text or blocks or attachments):
        raise SlackError("no_text")
    return _Content(text, blocks, attachments, metadata)


def _view_payload(params: dict[str, Any], types: set[str]) -> dict[str, Any]:
    """The `view` param, checked for a known type and valid blocks (at most 100)."""
    view = _json_field(params, "view", "invalid_arguments")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", "[ERROR] missing required field: view")
    if view.get("type") not in types:
        raise SlackError("invalid_arguments",
                         f"[ERROR] view type must be one of {sorted(types)} [json-pointer:/view/type]")
    blocks = view.get("blocks")
    problem = "[ERROR] blocks must be a list [json-pointer:/view/blocks]" \
        if not isinstance(blocks, list) else _blocks_problem(blocks, MAX_VIEW_BLOCKS)
    if problem:
        raise SlackError("invalid_arguments", problem)
    return view


def _blocks_problem(blocks: list[Any], max_blocks: int) -> str | None:
    """Slack's description of the first limit `blocks` break, or None."""
    if len(blocks) > max_blocks:
        return f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/blocks]"
    for index, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem:
            return f"[ERROR] {problem} [json-pointer:/blocks/{index}]"
    markdown = sum(len(_plain(b.get("text"))) for b in blocks if b.get("type") == "markdown")
    if markdown > MAX_MARKDOWN_CHARS:
        return f"[ERROR] markdown blocks hold {MAX_MARKDOWN_CHARS} characters in all [json-pointer:/blocks]"
    return None


def _attachments_problem(attachments: Any) -> str | None:
    """What is wrong with `attachments` (a list of objects, their blocks valid, one table at most)."""
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        return "attachments must be a list of objects"
    blocks = [block for attachment in attachments for block in attachment.get("blocks") or []]
    tables = [block for block in blocks if isinstance(block, dict) and block.get("type") == "table"]
    if len(tables) > 1:
        return "only_one_table_allowed"
    for table in tables:
        problem = _table_problem(table)
        if problem:
            return problem
    return _blocks_problem([b for b in blocks if b not in tables], MAX_MESSAGE_BLOCKS)


def _table_problem(table: dict[str, Any]) -> str | None:
    where = "[json-pointer:/attachments/blocks]"
    rows = table.get("rows")
    if not isinstance(rows, list) or not rows or len(rows) > MAX_TABLE_ROWS:
        return f"[ERROR] a table has 1 to {MAX_TABLE_ROWS} rows {where}"
    for row in rows:
        if not isinstance(row, list) or not 1 <= len(row) <= MAX_TABLE_CELLS:
            return f"[ERROR] a table row has 1 to {MAX_TABLE_CELLS} cells {where}"
        for cell in row:
            if not isinstance(cell, dict) or cell.get("type") not in TABLE_CELL_TYPES:
                return f"[ERROR] a table cell is raw_text or rich_text {where}"
            if cell["type"] == "raw_text" and not str(cell.get("text") or ""):
                return f"[ERROR] a raw_text cell needs text {where}"
    if len(table.get("column_settings") or []) > MAX_TABLE_COLUMN_SETTINGS:
        return f"[ERROR] at most {MAX_TABLE_COLUMN_SETTINGS} column settings {where}"
    return None


def _block_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return "each block must be an object with a type"
    kind = block["type"]
    if len(str(block.get("block_id", ""))) > MAX_BLOCK_ID_CHARS:
        return f"block_id must be at most {MAX_BLOCK_ID_CHARS} characters"
    text_limit = BLOCK_TEXT_LIMITS.get(kind)
    if text_limit is not None and len(_plain(block.get("text"))) > text_limit:
        return f"{kind} text must be at most {text_limit} characters"
    elements = block.get("elements") if isinstance(block.get("elements"), list) else []
    element_limit = BLOCK_ELEMENT_LIMITS.get(kind)
    if element_limit is not None and len(elements) > element_limit:
        return f"{kind} block must have at most {element_limit} elements"
    for element in [*elements, block.get("accessory")]:
        if isinstance(element, dict) and element.get("type") == "button":
            if len(_plain(element.get("text"))) > MAX_BUTTON_TEXT_CHARS:
                return f"button text must be at most {MAX_BUTTON_TEXT_CHARS} characters"
            if len(str(element.get("url", ""))) > MAX_BUTTON_URL_CHARS:
                return f"button url must be at most {MAX_BUTTON_URL_CHARS} characters"
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return f"unsupported block type: {kind}"
        parsed.to_dict()  # runs slack_sdk's own validators over the whole block
    except Exception as e:  # slack_sdk raises several types for malformed blocks
        return f"malformed {kind} block: {e}"
    return None


def _plain(text_object: Any) -> str:
    if isinstance(text_object, dict):
        return str(text_object.get("text", ""))
    return text_object if isinstance(text_object, str) else ""


def _text_chars(node: Any) -> int:
    """Characters in every `text` string inside `node` (for Slack's total-blocks-text limit)."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_chars(v)
                   for k, v in node.items())
    if isinstance(node, list):
        return sum(_text_chars(v) for v in node)
    return 0
