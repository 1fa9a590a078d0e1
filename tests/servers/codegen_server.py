"""A fake Codegen REST API on 127.0.0.1 for tests and benchmarks.

It answers the calls the bot makes the way `codegen-openapi.json` says Codegen does, keeps its
state in memory, enforces Codegen's per-token rate limits on an injectable clock, can inject
faults (error statuses, delays, dropped connections), records every call, and checks every
request and response against the OpenAPI contract.

Filters named `path` (in `fail_next`, `delay_next`, `drop_next`, `count`) match either a route
name (`me`, `organizations`, `users`, `user`, `repos`, `create_run`, `get_run`, `list_runs`,
`resume_run`, `logs`, `integrations`, `edit_pr`, `edit_repo_pr`, `remove_from_pr`, `ban`, `unban`,
`setup_commands`) or any substring of the request's actual path.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, Field, ValidationError, create_model

from bot.clock import Clock, SystemClock
from tests.servers.openapi_contract import codegen_contract

LimitClass = Literal["create", "standard", "logs", "pr_edits", "setup_commands"]
WINDOW_SECONDS: dict[str, float] = {
    "create": 60.0, "standard": 30.0, "logs": 60.0, "pr_edits": 60.0, "setup_commands": 60.0,
}
PR_STATES = ("open", "closed", "draft", "ready_for_review", "merged")
NOT_PAUSED = frozenset({"PENDING", "ACTIVE", "RUNNING"})
FIRST_RUN_ID = 40_001
DROPPED = 0  # Call.status of a request whose connection was closed without an answer

SourceType = Literal[
    "LOCAL", "SLACK", "GITHUB", "GITHUB_CHECK_SUITE", "GITHUB_PR_REVIEW", "LINEAR",
    "API", "CHAT", "JIRA", "CLICKUP", "MONDAY", "SETUP_COMMANDS",
]


def _error(message: str, status: int) -> dict[str, Any]:
    return {"message": message, "status_code": status}


FORBIDDEN = _error("You do not have access to this organization.", 403)
RATE_LIMITED = _error("Rate limit exceeded. Please try again later.", 429)
RUN_LIMIT_REACHED = _error(
    "Alloted agent runs for the current billing plan have been reached. "
    "Please upgrade your plan to continue.",
    402,
)
RUN_NOT_FOUND = _error("Agent run not found.", 404)
NO_REPOS = _error("No repos found in the organization. Please add some repos and try again.", 404)
USER_NOT_FOUND = _error("User not found.", 404)
PR_NOT_FOUND = _error("Pull request not found.", 404)
REPO_NOT_FOUND = _error("Repository not found.", 404)
NO_WRITE_ACCESS = _error("You do not have write access to this repository.", 403)
ROUTE_NOT_FOUND = {"detail": "Not Found"}

RUN_FIELDS = (
    "status", "created_at", "web_url", "result", "summary", "source_type",
    "github_pull_requests", "metadata",
)
INPUT_FIELDS = ("prompt", "images", "repo_id", "model", "agent_type")
LOG_FIELDS = ("thought", "tool_name", "tool_input", "tool_output", "observation")
USER_FIELDS = (
    "id", "email", "github_user_id", "github_username", "avatar_url", "full_name", "role",
    "is_admin",
)
REPO_FIELDS = (
    "id", "name", "description", "github_id", "visibility", "archived", "setup_status",
    "language",
)


# Request shapes, validated like Codegen's FastAPI service does (lax pydantic v2).
class _CreateRunBody(BaseModel):
    prompt: str
    images: list[str] | None = None
    metadata: dict[str, Any] | None = None
    repo_id: int | None = None
    model: str | None = None
    agent_type: Literal["codegen", "claude_code"] | None = None


class _ResumeRunBody(BaseModel):
    agent_run_id: int
    prompt: str
    images: list[str] | None = None


class _EditPRBody(BaseModel):
    state: Literal["open", "closed", "draft", "ready_for_review"]


class _StopRunBody(BaseModel):
    agent_run_id: int
    before_card_order_id: str | None = None
    after_card_order_id: str | None = None


class _SetupCommandsBody(BaseModel):
    repo_id: int
    prompt: str | None = None
    trigger_source: str = "setup-commands"


class _Paging(BaseModel):
    skip: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=100)


class _RunsQuery(_Paging):
    user_id: int | None = None
    source_type: SourceType | None = None


class _LogsQuery(_Paging):
    reverse: bool = False


@dataclass(frozen=True)
class Call:
    """One request the server received; status 0 (`DROPPED`) means it got no answer."""

    method: str
    path: str
    status: int
    limit_class: LimitClass
    at: float
    route: str


@dataclass(frozen=True)
class _Route:
    name: str
    method: str
    template: str
    limit_class: LimitClass = "standard"
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    not_found: dict[str, Any] = field(default_factory=lambda: ROUTE_NOT_FOUND)
    pattern: re.Pattern[str] = field(init=False)
    # org_id is compared with the server's own id (403 when different); other ids are ints.
    path_model: type[BaseModel] | None = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))
        ids = [name for name in self.pattern.groupindex if name != "org_id"]
        model = create_model(f"Path_{self.name}", **{n: (int, ...) for n in ids}) if ids else None
        object.__setattr__(self, "path_model", model)


_ORG = "/v1/organizations/{org_id}"
ROUTES = (
    _Route("me", "GET", "/v1/users/me"),
    _Route("organizations", "GET", "/v1/organizations", query=_Paging),
    _Route("users", "GET", f"{_ORG}/users", query=_Paging),
    _Route("user", "GET", f"{_ORG}/users/{{user_id}}", not_found=USER_NOT_FOUND),
    _Route("repos", "GET", f"{_ORG}/repos", query=_Paging),
    _Route("create_run", "POST", f"{_ORG}/agent/run", "create", body=_CreateRunBody,
           not_found=NO_REPOS),
    _Route("resume_run", "POST", f"{_ORG}/agent/run/resume", body=_ResumeRunBody,
           not_found=RUN_NOT_FOUND),
    _Route("get_run", "GET", f"{_ORG}/agent/run/{{agent_run_id}}", not_found=RUN_NOT_FOUND),
    _Route("list_runs", "GET", f"{_ORG}/agent/runs", query=_RunsQuery),
    _Route("logs", "GET", "/v1/alpha/organizations/{org_id}/agent/run/{agent_run_id}/logs",
           "logs", query=_LogsQuery, not_found=RUN_NOT_FOUND),
    _Route("integrations", "GET", f"{_ORG}/integrations"),
    _Route("edit_pr", "PATCH", f"{_ORG}/prs/{{pr_id}}", "pr_edits", body=_EditPRBody,
           not_found=PR_NOT_FOUND),
    _Route("edit_repo_pr", "PATCH", f"{_ORG}/repos/{{repo_id}}/prs/{{pr_id}}", "pr_edits",
           body=_EditPRBody, not_found=PR_NOT_FOUND),
    _Route("remove_from_pr", "POST", f"{_ORG}/agent/run/remove-from-pr", body=_StopRunBody,
           not_found=RUN_NOT_FOUND),
    _Route("ban", "POST", f"{_ORG}/agent/run/ban", body=_StopRunBody, not_found=RUN_NOT_FOUND),
    _Route("unban", "POST", f"{_ORG}/agent/run/unban", body=_StopRunBody, not_found=RUN_NOT_FOUND),
    _Route("setup_commands", "POST", f"{_ORG}/setup-commands/generate", "setup_commands",
           body=_SetupCommandsBody, not_found=REPO_NOT_FOUND),
)


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), headers or {})


@dataclass
class _Request:
    method: str
    path: str
    query: str
    authorization: str | None
    body: bytes
    content_type: str


@dataclass
class _Fault:
    kind: Literal["fail", "delay", "drop"]
    remaining: int
    method: str | None
    path: str | None
    status: int = 0
    seconds: float = 0.0
    respond: bool = True
    process: bool = False

    def matches(self, request: _Request, route: str) -> bool:
        return (self.method is None or self.method.upper() == request.method) and (
            self.path is None or self.path == route or self.path in request.path
        )


@dataclass
class _Run:
    view: dict[str, Any]  # exactly the AgentRunResponse fields
    user_id: int
    inputs: dict[str, Any]
    resumes: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    checks_banned: bool = False  # ban / remove-from-pr: its PR's check suites are ignored
    removed: bool = False  # remove-from-pr: Codegen no longer acts on its PR


@dataclass
class _PullRequest:
    run_id: int
    repo_id: int | None
    state: str = "open"
    number: int = 1
    writable: bool = True  # whether the token's user may change it (write access to its repo)


class _Invalid(Exception):
    """A request the server answers with 422."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail = detail


class _SlidingWindows:
    """Per-token sliding-window rate limits; not thread-safe (the server's lock guards it)."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def admit(self, key: str, limit_class: str, now: float) -> int:
        """0 when admitted (a slot is taken), else whole seconds until a slot frees (>= 1)."""
        window, limit = WINDOW_SECONDS[limit_class], self.limits[limit_class]
        hits = self._hits.setdefault((key, limit_class), deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) < limit:
            hits.append(now)
            return 0
        frees_at = hits[len(hits) - limit] + window
        return max(1, math.ceil(frees_at - now))


def _page(items: list[Any], total: int, skip: int, limit: int) -> dict[str, Any]:
    return {
        "items": items,
        "total": total,
        "page": skip // limit + 1,
        "size": limit,
        "pages": math.ceil(total / limit),
    }


def _pydantic_detail(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    return [
        {"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False)
    ]


def _validate_args(request: _Request, route: _Route, params: dict[str, str]) -> dict[str, Any]:
    """Path, query and body arguments as one dict, or _Invalid with FastAPI-style detail."""
    detail: list[dict[str, Any]] = []
    args: dict[str, Any] = {}
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    for where, model, data in (("path", route.path_model, params), ("query", route.query, query)):
        if model is not None:
            try:
                args |= model.model_validate(data).model_dump()
            except ValidationError as exc:
                detail += _pydantic_detail(exc, where)
    if route.body is not None:
        detail += _validate_body(request.body, route.body, args)
    if detail:
        raise _Invalid(detail)
    return args


def _validate_body(
    raw: bytes, model: type[BaseModel], args: dict[str, Any]
) -> list[dict[str, Any]]:
    """Add the body's fields to `args`; returns what is wrong with the body."""
    if not raw:
        return [{"loc": ["body"], "msg": "Field required", "type": "missing"}]
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return [{"loc": ["body", getattr(exc, "pos", 0)], "msg": "JSON decode error",
                 "type": "json_invalid"}]
    try:
        args |= model.model_validate(data).model_dump()
    except ValidationError as exc:
        return _pydantic_detail(exc, "body")
    return []


def _check_fields(given: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = set(given) - set(allowed)
    if unknown:
        raise TypeError(f"unknown {what} fields: {sorted(unknown)}")


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the owning CodegenServer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.server.app._track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.app._track(self.connection, open_=False)
        super().finish()

    def _dispatch(self) -> None:
        self.server.app._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read `calls`, and request lines must never reach logs."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, app: CodegenServer) -> None:
        self.app = app
        super().__init__(("127.0.0.1", 0), _Handler)


class CodegenServer:
    """Codegen's API in memory, served over real HTTP; every public method is thread-safe."""

    def __init__(
        self,
        *,
        token: str = "test-codegen-token",
        org_id: int = 7,
        clock: Clock | None = None,
        create_limit: int = 10,
        standard_limit: int = 60,
        logs_limit: int = 60,
        pr_edits_limit: int = 30,
        setup_commands_limit: int = 5,
        validate: bool = True,
    ) -> None:
        self.token = token
        self.org_id = org_id
        self.org_name = "Test Org"
        self.clock: Clock = clock or SystemClock()
        self.url = ""
        self._lock = threading.Lock()
        self._limits = _SlidingWindows({})
        self.set_limits(
            create=create_limit, standard=standard_limit, logs=logs_limit,
            pr_edits=pr_edits_limit, setup_commands=setup_commands_limit,
        )
        self._contract = codegen_contract() if validate else None
        self._ids = itertools.count(1)
        self._run_ids = itertools.count(FIRST_RUN_ID)
        self._users: dict[int, dict[str, Any]] = {}
        self._repos: dict[int, dict[str, Any]] = {}
        self._runs: dict[int, _Run] = {}  # creation order
        self._prs: dict[int, _PullRequest] = {}
        self._faults: list[_Fault] = []
        self._calls: list[Call] = []
        self._violations: list[str] = []
        self._connections: set[socket.socket] = set()
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.me = self.add_user(
            id=501, email="dev@example.com", github_username="dev-user", full_name="Dev User",
            role="ADMIN", is_admin=True,
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> CodegenServer:
        """Listen on a free loopback port; `url` is valid afterwards. Idempotent."""
        if self._http is None:
            self._http = _HttpServer(self)
            host, port = self._http.server_address[:2]
            self.url = f"http://{host}:{port}"
            self._thread = threading.Thread(
                target=self._http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            )
            self._thread.start()
        return self

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def stop(self) -> None:
        """Stop listening and close every open connection."""
        if self._http is None:
            return
        self._http.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._http.server_close()
        if self._thread is not None:
            self._thread.join()
        self._http = self._thread = None

    def __enter__(self) -> CodegenServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- seeding and inspecting state -----------------------------------------------------

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), tz=UTC).isoformat()

    def add_user(self, **fields: Any) -> dict[str, Any]:
        """Add an organization member (UserResponse fields; the rest get plausible values)."""
        _check_fields(fields, USER_FIELDS, "user")
        with self._lock:
            user_id = fields.get("id") or next(self._ids)
            user = {
                "id": user_id,
                "email": f"user{user_id}@example.com",
                "github_user_id": str(100_000 + user_id),
                "github_username": f"user{user_id}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{100_000 + user_id}",
                "full_name": f"User {user_id}",
                "role": "MEMBER",
                "is_admin": False,
            } | fields
            self._users[user_id] = user
            return dict(user)

    def add_repo(self, full_name: str, **fields: Any) -> dict[str, Any]:
        """Add a repository to the organization; returns its RepoResponse."""
        _check_fields(fields, REPO_FIELDS, "repo")
        with self._lock:
            repo_id = fields.get("id") or next(self._ids)
            repo = {
                "id": repo_id,
                "name": full_name.rsplit("/", 1)[-1],
                "full_name": full_name,
                "description": None,
                "github_id": str(700_000 + repo_id),
                "organization_id": self.org_id,
                "visibility": "private",
                "archived": False,
                "setup_status": "COMPLETE",
                "language": "Python",
            } | fields
            self._repos[repo_id] = repo
            return dict(repo)

    def _new_run(self, user_id: int, inputs: dict[str, Any], **view: Any) -> _Run:
        run_id = next(self._run_ids)
        run = _Run(
            view={
                "id": run_id,
                "organization_id": self.org_id,
                "status": "ACTIVE",
                "created_at": self._now_iso(),
                "web_url": f"https://codegen.com/agent/trace/{run_id}",
                "result": None,
                "summary": None,
                "source_type": "API",
                "github_pull_requests": [],
                "metadata": None,
            }
            | view,
            user_id=user_id,
            inputs={name: inputs.get(name) for name in INPUT_FIELDS},
        )
        self._runs[run_id] = run
        return run

    def add_run(self, **fields: Any) -> dict[str, Any]:
        """Seed a run without HTTP or rate limits: AgentRunResponse fields (not id), `user_id`
        (default: `me`) and create inputs (`prompt`, `images`, `repo_id`, `model`, `agent_type`)."""
        user_id = fields.pop("user_id", self.me["id"])
        _check_fields(fields, RUN_FIELDS + INPUT_FIELDS, "run")
        inputs = {k: fields.pop(k) for k in INPUT_FIELDS if k in fields}
        with self._lock:
            return json.loads(json.dumps(self._new_run(user_id, inputs, **fields).view))

    def _run(self, run_id: int) -> _Run:
        try:
            return self._runs[run_id]
        except KeyError:
            raise KeyError(f"no agent run {run_id}") from None

    def run(self, run_id: int) -> dict[str, Any]:
        """The run as GET .../agent/run/{id} would return it now."""
        with self._lock:
            return json.loads(json.dumps(self._run(run_id).view))

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first."""
        with self._lock:
            return json.loads(json.dumps([r.view for r in self._runs.values()]))

    def run_inputs(self, run_id: int) -> dict[str, Any]:
        """What was sent for a run: `user_id`, the create inputs, and `resumes` (prompt, images)."""
        with self._lock:
            run = self._run(run_id)
            return json.loads(
                json.dumps({"user_id": run.user_id, **run.inputs, "resumes": run.resumes})
            )

    def set_status(
        self, run_id: int, status: str, *, result: str | None = None, summary: str | None = None
    ) -> None:
        """Move a run to `status`; `result`/`summary` are set when given."""
        with self._lock:
            view = self._run(run_id).view
            view["status"] = status
            if result is not None:
                view["result"] = result
            if summary is not None:
                view["summary"] = summary

    def set_run_fields(self, run_id: int, **fields: Any) -> dict[str, Any]:
        """Set AgentRunResponse fields of a run (not `id`) to exactly these JSON values, nulls and
        unknown status strings included, e.g. `github_pull_requests=[{"id": 77, "title": None, ...}]`.
        Answers still go through the contract check, so only what the spec allows passes a test.
        Returns the run as GET would now answer it."""
        _check_fields(fields, RUN_FIELDS, "run")
        with self._lock:
            view = self._run(run_id).view
            view.update(json.loads(json.dumps(fields)))
            return json.loads(json.dumps(view))

    def add_pull_request(
        self, run_id: int, *, title: str, url: str, head_branch: str = "codegen/fix"
    ) -> dict[str, Any]:
        """Attach a GitHub pull request to a run; returns the GithubPullRequestResponse."""
        with self._lock:
            pr = {
                "id": next(self._ids),
                "title": title,
                "url": url,
                "created_at": self._now_iso(),
                "head_branch_name": head_branch,
            }
            run = self._run(run_id)
            view = run.view
            view["github_pull_requests"] = [*(view["github_pull_requests"] or []), pr]
            self._prs[pr["id"]] = _PullRequest(
                run_id, run.inputs.get("repo_id"), number=len(self._prs) + 1
            )
            return dict(pr)

    def pull_request(self, pr_id: int) -> dict[str, Any]:
        """What Codegen knows of a pull request: `state`, `run_id`, `repo_id`, `writable`, and its
        run's flags `checks_banned` and `removed`."""
        with self._lock:
            pr = self._prs[pr_id]
            run = self._run(pr.run_id)
            return {**vars(pr), "checks_banned": run.checks_banned, "removed": run.removed}

    def set_pull_request(self, pr_id: int, *, state: str | None = None,
                         writable: bool | None = None) -> None:
        """Change a PR behind the bot's back (e.g. `merged`), or take away the token's write access."""
        if state is not None and state not in PR_STATES:
            raise ValueError(f"state is one of {PR_STATES}")
        with self._lock:
            pr = self._prs[pr_id]
            pr.state = state if state is not None else pr.state
            pr.writable = writable if writable is not None else pr.writable

    def add_log(self, run_id: int, message_type: str = "ACTION", **fields: Any) -> dict[str, Any]:
        """Append a log entry (thought, tool_name, tool_input, tool_output, observation)."""
        _check_fields(fields, (*LOG_FIELDS, "created_at"), "log")
        with self._lock:
            return dict(self._append_log(self._run(run_id), message_type, **fields))

    def _append_log(self, run: _Run, message_type: str, **fields: Any) -> dict[str, Any]:
        entry = {
            "agent_run_id": run.view["id"],
            "created_at": self._now_iso(),
            "message_type": message_type,
        } | dict.fromkeys(LOG_FIELDS) | fields
        run.logs.append(entry)
        return entry

    # -- limits, faults, records ----------------------------------------------------------

    def set_limits(
        self, *, create: int | None = None, standard: int | None = None, logs: int | None = None,
        pr_edits: int | None = None, setup_commands: int | None = None,
    ) -> None:
        """Change the per-token limits (requests per window); windows stay as WINDOW_SECONDS says."""
        given = {"create": create, "standard": standard, "logs": logs, "pr_edits": pr_edits,
                 "setup_commands": setup_commands}
        if any(v is not None and v < 1 for v in given.values()):
            raise ValueError("limits must be at least 1")
        with self._lock:
            self._limits.limits.update({k: v for k, v in given.items() if v is not None})

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def fail_next(
        self, count: int, status: int, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next `count` matching requests with `status` and the spec's body for it,
        without processing them (429 also carries Retry-After: 1)."""
        self._add_fault(_Fault("fail", count, method, path, status=status))

    def delay_next(
        self,
        count: int,
        seconds: float,
        *,
        method: str | None = None,
        path: str | None = None,
        then_respond: bool = True,
    ) -> None:
        """Process the next `count` matching requests, then really sleep `seconds` before
        answering (or, with then_respond=False, before closing the connection unanswered)."""
        self._add_fault(
            _Fault("delay", count, method, path, seconds=seconds, respond=then_respond)
        )

    def drop_next(
        self, count: int, *, method: str | None = None, path: str | None = None,
        process: bool = False,
    ) -> None:
        """Close the connection of the next `count` matching requests without an answer;
        with process=True the request takes effect first."""
        self._add_fault(_Fault("drop", count, method, path, process=process))

    @property
    def calls(self) -> list[Call]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._calls)

    def count(
        self,
        *,
        limit_class: str | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> int:
        """How many recorded calls match every given filter."""
        return sum(
            (limit_class is None or c.limit_class == limit_class)
            and (status is None or c.status == status)
            and (method is None or c.method == method.upper())
            and (path is None or path == c.route or path in c.path)
            for c in self.calls
        )

    @property
    def contract_violations(self) -> list[str]:
        """Requests and responses that broke the OpenAPI contract (a copy)."""
        with self._lock:
            return list(self._violations)

    def take_contract_violations(self) -> list[str]:
        """Return the violations recorded so far and forget them."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    # -- HTTP -----------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        at = self.clock.monotonic()
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = _Request(
            method=handler.command,
            path=url.path,
            query=url.query,
            authorization=handler.headers.get("Authorization"),
            body=handler.rfile.read(length) if length else b"",
            content_type=handler.headers.get("Content-Type") or "application/json",
        )
        route, params, reply = self._route(request)
        name = route.name if route else "unknown"
        with self._lock:
            fault = next((f for f in self._faults if f.matches(request, name)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
        if fault is not None and fault.kind == "fail":
            reply = self._injected(fault.status, route)
        elif route is not None and (fault is None or fault.kind != "drop" or fault.process):
            reply = self._answer(request, route, params)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        answered = fault is None or (fault.kind != "drop" and fault.respond)
        status = reply.status if answered else DROPPED
        call = Call(
            request.method, request.path, status, route.limit_class if route else "standard",
            at, name,
        )
        violations = self._check_contract(request, status, reply.body if answered else None)
        with self._lock:
            self._calls.append(call)
            self._violations.extend(violations)
        if answered:
            self._send(handler, reply)
        else:
            handler.close_connection = True

    @staticmethod
    def _route(request: _Request) -> tuple[_Route | None, dict[str, str], _Reply]:
        """The route, its path parameters, and the 404/405 to send when nothing matches."""
        path_known = False
        for route in ROUTES:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            if route.method == request.method:
                return route, match.groupdict(), _Reply(DROPPED, b"")
            path_known = True
        if path_known:
            return None, {}, _reply(405, {"detail": "Method Not Allowed"})
        return None, {}, _reply(404, ROUTE_NOT_FOUND)

    @staticmethod
    def _injected(status: int, route: _Route | None) -> _Reply:
        if status == 429:
            return _reply(429, RATE_LIMITED, {"Retry-After": "1"})
        payloads: dict[int, Any] = {
            402: RUN_LIMIT_REACHED,
            403: FORBIDDEN,
            404: route.not_found if route else ROUTE_NOT_FOUND,
            422: {"detail": [{"loc": ["body"], "msg": "Injected failure", "type": "value_error"}]},
        }
        return _reply(status, payloads.get(status, {"message": HTTPStatus(status).phrase}))

    def _answer(self, request: _Request, route: _Route, params: dict[str, str]) -> _Reply:
        """Auth, organization, rate limit, validation, then the route's own handler."""
        if request.authorization != f"Bearer {self.token}" or params.get(
            "org_id", str(self.org_id)
        ) != str(self.org_id):
            return _reply(403, FORBIDDEN)
        with self._lock:
            wait = self._limits.admit(self.token, route.limit_class, self.clock.monotonic())
            if wait:
                return _reply(429, RATE_LIMITED, {"Retry-After": str(wait)})
            try:
                args = _validate_args(request, route, params)
                status, payload = getattr(self, f"_on_{route.name}")(**args)
            except _Invalid as invalid:
                status, payload = 422, {"detail": invalid.detail}
            # Serialised under the lock: the answer is a consistent snapshot.
            return _reply(status, payload)

    def _check_contract(self, request: _Request, status: int, body: bytes | None) -> list[str]:
        if self._contract is None:
            return []
        where = f"{request.method} {request.path} -> {status or 'dropped'}"
        errors = [
            f"{where}: request: {e}"
            for e in self._contract.request_errors(
                request.method, request.path, request.query, request.body, request.content_type
            )
        ]
        if body is not None:
            errors += [
                f"{where}: response: {e}"
                for e in self._contract.response_errors(
                    request.method, request.path, status, body, request.query
                )
            ]
        return errors

    @staticmethod
    def _send(handler: _Handler, reply: _Reply) -> None:
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:  # the client gave up (e.g. its timeout fired during a delay)
            handler.close_connection = True

    # -- route handlers (called under the lock with validated arguments) ------------------

    def _on_me(self) -> tuple[int, Any]:
        return 200, self._users[self.me["id"]]

    def _on_organizations(self, skip: int, limit: int) -> tuple[int, Any]:
        org = {
            "id": self.org_id,
            "name": self.org_name,
            "settings": {"enable_pr_creation": True, "enable_rules_detection": True},
        }
        return 200, _page([org][skip : skip + limit], 1, skip, limit)

    def _on_users(self, skip: int, limit: int) -> tuple[int, Any]:
        users = list(self._users.values())
        return 200, _page(users[skip : skip + limit], len(users), skip, limit)

    def _on_user(self, user_id: int) -> tuple[int, Any]:
        user = self._users.get(user_id)
        return (200, user) if user else (404, USER_NOT_FOUND)

    def _on_repos(self, skip: int, limit: int) -> tuple[int, Any]:
        repos = list(self._repos.values())
        return 200, _page(repos[skip : skip + limit], len(repos), skip, limit)

    def _on_create_run(self, metadata: dict[str, Any] | None, **inputs: Any) -> tuple[int, Any]:
        if inputs["repo_id"] is not None and inputs["repo_id"] not in self._repos:
            return 404, NO_REPOS
        return 200, self._new_run(self.me["id"], inputs, metadata=metadata).view

    def _on_get_run(self, agent_run_id: int) -> tuple[int, Any]:
        run = self._runs.get(agent_run_id)
        return (200, run.view) if run else (404, RUN_NOT_FOUND)

    def _on_list_runs(
        self, skip: int, limit: int, user_id: int | None, source_type: str | None
    ) -> tuple[int, Any]:
        matching = [
            run.view
            for run in reversed(self._runs.values())
            if (user_id is None or run.user_id == user_id)
            and (source_type is None or run.view["source_type"] == source_type)
        ]
        return 200, _page(matching[skip : skip + limit], len(matching), skip, limit)

    def _on_resume_run(
        self, agent_run_id: int, prompt: str, images: list[str] | None
    ) -> tuple[int, Any]:
        run = self._runs.get(agent_run_id)
        if run is None:
            return 404, RUN_NOT_FOUND
        if run.view["status"] in NOT_PAUSED:
            raise _Invalid(
                [{"loc": ["body", "agent_run_id"], "msg": "Agent run is not paused",
                  "type": "value_error"}]
            )
        run.view["status"] = "ACTIVE"
        run.resumes.append({"prompt": prompt, "images": images})
        self._append_log(run, "USER_MESSAGE", observation=prompt)
        return 200, run.view

    def _on_logs(
        self, agent_run_id: int, skip: int, limit: int, reverse: bool
    ) -> tuple[int, Any]:
        run = self._runs.get(agent_run_id)
        if run is None:
            return 404, RUN_NOT_FOUND
        logs = run.logs[::-1] if reverse else run.logs
        page = _page(logs[skip : skip + limit], len(logs), skip, limit)
        view = {k: run.view[k] for k in ("id", "organization_id", "status", "created_at",
                                         "web_url", "result", "metadata")}
        return 200, view | {
            "logs": page["items"],
            "total_logs": page["total"],
            "page": page["page"],
            "size": page["size"],
            "pages": page["pages"],
        }

    def _on_integrations(self) -> tuple[int, Any]:
        integrations = [
            {"integration_type": "github", "active": True, "token_id": None,
             "installation_id": 4242, "metadata": {"account": "test-org"}},
            {"integration_type": "slack", "active": True, "token_id": 17,
             "installation_id": None, "metadata": {"team": "T0TEST"}},
        ]
        return 200, {
            "organization_id": self.org_id,
            "organization_name": self.org_name,
            "integrations": integrations,
            "total_active_integrations": sum(i["active"] for i in integrations),
        }

    def _on_edit_pr(self, pr_id: int, state: str) -> tuple[int, Any]:
        pr = self._prs.get(pr_id)
        if pr is None:
            return 404, PR_NOT_FOUND
        return self._edit(pr_id, pr, state)

    def _on_edit_repo_pr(self, repo_id: int, pr_id: int, state: str) -> tuple[int, Any]:
        pr = self._prs.get(pr_id)
        if pr is None or pr.repo_id != repo_id:
            return 404, PR_NOT_FOUND
        return self._edit(pr_id, pr, state)

    def _edit(self, pr_id: int, pr: _PullRequest, state: str) -> tuple[int, Any]:
        """GitHub's rules: a merged PR stays merged; a closed one is reopened before it changes."""
        if not pr.writable:
            return 403, NO_WRITE_ACCESS
        view = next(p for p in self._runs[pr.run_id].view["github_pull_requests"] if p["id"] == pr_id)
        answer = {"url": view["url"], "number": pr.number, "title": view["title"]}
        if pr.state == "merged" or (pr.state == "closed" and state not in ("open", "closed")):
            error = f"Pull request #{pr.number} is {pr.state}; it can't be made {state}."
            return 200, answer | {"success": False, "state": pr.state, "error": error}
        pr.state = state
        return 200, answer | {"success": True, "state": state, "error": None}

    def _flagged_run(self, agent_run_id: int) -> _Run | None:
        """The run, when it exists and has a pull request to flag (else _Invalid)."""
        run = self._runs.get(agent_run_id)
        if run is not None and not run.view["github_pull_requests"]:
            raise _Invalid([{"loc": ["body", "agent_run_id"], "msg": "Agent run has no pull request",
                             "type": "value_error"}])
        return run

    def _on_remove_from_pr(self, agent_run_id: int, **_: Any) -> tuple[int, Any]:
        return self._flag(agent_run_id, checks_banned=True, removed=True)

    def _on_ban(self, agent_run_id: int, **_: Any) -> tuple[int, Any]:
        return self._flag(agent_run_id, checks_banned=True)

    def _on_unban(self, agent_run_id: int, **_: Any) -> tuple[int, Any]:
        return self._flag(agent_run_id, checks_banned=False)

    def _flag(self, agent_run_id: int, **flags: bool) -> tuple[int, Any]:
        """Set the run's PR flags; banning also stops the PR's agents (a working run stops)."""
        run = self._flagged_run(agent_run_id)
        if run is None:
            return 404, RUN_NOT_FOUND
        for name, value in flags.items():
            setattr(run, name, value)
        if flags.get("checks_banned") and run.view["status"] in NOT_PAUSED:
            run.view["status"] = "STOPPED"
        return 200, {"success": True}

    def _on_setup_commands(self, repo_id: int, prompt: str | None,
                           trigger_source: str) -> tuple[int, Any]:
        if repo_id not in self._repos:
            return 404, REPO_NOT_FOUND
        inputs = {"prompt": prompt or "", "repo_id": repo_id}
        run = self._new_run(self.me["id"], inputs, source_type="SETUP_COMMANDS")
        return 200, {"agent_run_id": run.view["id"], "status": run.view["status"],
                     "url": run.view["web_url"]}
