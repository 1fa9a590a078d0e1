"""The fake Codegen API answers over real HTTP as the spec says, and its test controls work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.fakeclock import FakeClock
from tests.servers.codegen_fixtures import (
    codegen_server,  # noqa: F401
    make_codegen_server,
)
from tests.servers.codegen_server import (
    DROPPED,
    FORBIDDEN,
    NO_REPOS,
    RATE_LIMITED,
    RUN_LIMIT_REACHED,
    RUN_NOT_FOUND,
    USER_NOT_FOUND,
    CodegenServer,
)
from tests.servers.openapi_contract import codegen_contract

TOKEN = "test-codegen-token"
ORG = "/v1/organizations/7"
CREATE = f"{ORG}/agent/run"
RESUME = f"{ORG}/agent/run/resume"
RUNS = f"{ORG}/agent/runs"


def logs_path(run_id: int) -> str:
    return f"/v1/alpha/organizations/7/agent/run/{run_id}/logs"


def open_client(server: CodegenServer, **headers: str) -> httpx.Client:
    """A client for the server; Bearer TOKEN unless `headers` say otherwise."""
    # Plain HTTP on loopback: verify=False only skips loading the CA bundle (60 ms a client).
    return httpx.Client(
        base_url=server.url,
        headers=headers or {"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
        verify=False,
    )


@pytest.fixture
def client(codegen_server: CodegenServer) -> Iterator[httpx.Client]:  # noqa: F811
    with open_client(codegen_server) as http:
        yield http


def create(client: httpx.Client, prompt: str = "Fix the flaky test", **body: Any) -> httpx.Response:
    return client.post(CREATE, json={"prompt": prompt, **body})


def clock_of(server: CodegenServer) -> FakeClock:
    assert isinstance(server.clock, FakeClock)
    return server.clock


# -- every call answers, and answers per the contract -------------------------------------


def test_every_call_answers_as_the_spec_says(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    repo = codegen_server.add_repo("acme/api")
    teammate = codegen_server.add_user(full_name="Ada Lovelace")
    run = create(client, repo_id=repo["id"]).json()
    codegen_server.add_log(run["id"], thought="Reading the code")
    me = codegen_server.me

    answers = {
        "/v1/users/me": client.get("/v1/users/me"),
        "/v1/organizations": client.get("/v1/organizations"),
        "users": client.get(f"{ORG}/users", params={"skip": 0, "limit": 10}),
        "user": client.get(f"{ORG}/users/{teammate['id']}"),
        "repos": client.get(f"{ORG}/repos"),
        "get run": client.get(f"{CREATE}/{run['id']}"),
        "list runs": client.get(RUNS, params={"user_id": me["id"], "source_type": "API"}),
        "logs": client.get(logs_path(run["id"]), params={"reverse": "true"}),
        "integrations": client.get(f"{ORG}/integrations"),
    }

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 200)
    assert answers["/v1/users/me"].json() == me
    assert answers["/v1/organizations"].json()["items"][0]["id"] == 7
    assert teammate in answers["users"].json()["items"]
    assert answers["user"].json()["full_name"] == "Ada Lovelace"
    assert answers["repos"].json()["items"] == [repo]
    assert answers["get run"].json() == run
    assert answers["list runs"].json()["items"] == [run]
    assert answers["logs"].json()["logs"][0]["thought"] == "Reading the code"
    assert answers["integrations"].json()["total_active_integrations"] >= 1
    assert codegen_server.count() == 10
    assert codegen_server.contract_violations == []


def test_contract_check_rejects_malformed_responses() -> None:
    contract = codegen_contract()
    path = f"{CREATE}/1"
    good = {"id": 1, "organization_id": 7, "status": "ACTIVE", "metadata": {"k": "v"}}

    assert contract.response_errors("GET", path, 200, b'{"id": 1, "organization_id": 7}') == []
    assert any("id" in e for e in contract.response_errors("GET", path, 200, b'{"id": "1"}'))
    broken_metadata = httpx.Response(200, json=good | {"metadata": "not an object"}).content
    assert contract.response_errors("GET", path, 200, broken_metadata)
    page_without_total = b'{"items": [], "page": 1, "size": 100, "pages": 0}'
    assert any("total" in e for e in contract.response_errors("GET", RUNS, 200, page_without_total))
    # 403 is not listed for /repos; it is held to the 403 body documented elsewhere.
    assert contract.response_errors("GET", f"{ORG}/repos", 403, b'{"message": 3}')


def test_server_records_its_own_malformed_answers_and_unknown_calls(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    bad = codegen_server.add_run(metadata="not an object")

    assert client.get(f"{CREATE}/{bad['id']}").status_code == 200
    assert client.get("/v1/no/such/call").json() == {"detail": "Not Found"}
    assert client.delete("/v1/users/me").status_code == 405

    violations = codegen_server.take_contract_violations()
    assert len(violations) == 3, violations
    assert "response" in violations[0] and "metadata" in violations[0]
    assert "request" in violations[1] and "/v1/no/such/call" in violations[1]
    assert "request" in violations[2]
    assert codegen_server.contract_violations == []


def test_a_run_can_be_given_any_field_values_the_spec_allows(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    run = codegen_server.add_run()
    odd_pr = {"id": 77, "title": None, "url": None, "created_at": "2026-11-30T12:00:00Z",
              "head_branch_name": None}
    codegen_server.set_run_fields(
        run["id"], status="SOMETHING_NEW", web_url=None, github_pull_requests=[odd_pr]
    )
    codegen_server.add_pull_request(run["id"], title="Fix login", url="https://github.com/acme/api/pull/9")
    listed = client.get(RUNS).json()["items"][0]
    assert (listed["status"], listed["web_url"]) == ("SOMETHING_NEW", None)
    assert listed["github_pull_requests"][0] == odd_pr and len(listed["github_pull_requests"]) == 2
    assert codegen_server.contract_violations == []

    codegen_server.set_run_fields(run["id"], github_pull_requests=[{"id": 78, "title": "no created_at"}])
    client.get(f"{CREATE}/{run['id']}")
    violations = codegen_server.take_contract_violations()
    assert len(violations) == 1 and "created_at" in violations[0]
    with pytest.raises(TypeError, match="unknown run fields"):
        codegen_server.set_run_fields(run["id"], id=5)


# -- auth and validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"X-Nothing": "1"}, "/v1/users/me"),
        ({"Authorization": "Bearer wrong-token"}, RUNS),
        ({"Authorization": TOKEN}, f"{ORG}/repos"),
        ({"Authorization": f"Bearer {TOKEN}"}, "/v1/organizations/8/agent/runs"),
    ],
    ids=["no token", "wrong token", "no Bearer", "other org"],
)
def test_forbidden_without_access(
    codegen_server: CodegenServer,  # noqa: F811
    headers: dict[str, str],
    path: str,
) -> None:
    with open_client(codegen_server, **headers) as anonymous:
        answer = anonymous.get(path)

    assert answer.status_code == 403
    assert answer.json() == FORBIDDEN


def test_create_with_wrong_token_creates_nothing(
    codegen_server: CodegenServer,  # noqa: F811
) -> None:
    with open_client(codegen_server, Authorization="Bearer stolen") as intruder:
        answer = create(intruder)

    assert answer.status_code == 403
    assert codegen_server.runs() == []


@pytest.mark.parametrize(
    ("method", "path", "body", "loc", "kind"),
    [
        ("POST", CREATE, {}, ["body", "prompt"], "missing"),
        ("POST", CREATE, {"prompt": 5}, ["body", "prompt"], "string_type"),
        ("POST", CREATE, b"{", ["body", 1], "json_invalid"),
        ("POST", CREATE, b"", ["body"], "missing"),
        ("POST", CREATE, {"prompt": "x", "agent_type": "gpt"}, ["body", "agent_type"],
         "literal_error"),
        ("POST", CREATE, {"prompt": "x", "images": "pic"}, ["body", "images"], "list_type"),
        ("POST", CREATE, {"prompt": "x", "repo_id": "main"}, ["body", "repo_id"], "int_parsing"),
        ("POST", RESUME, {"prompt": "more"}, ["body", "agent_run_id"], "missing"),
        ("GET", f"{RUNS}?limit=101", None, ["query", "limit"], "less_than_equal"),
        ("GET", f"{RUNS}?skip=-1", None, ["query", "skip"], "greater_than_equal"),
        ("GET", f"{RUNS}?user_id=me", None, ["query", "user_id"], "int_parsing"),
        ("GET", f"{RUNS}?source_type=EMAIL", None, ["query", "source_type"], "literal_error"),
        ("GET", f"{CREATE}/latest", None, ["path", "agent_run_id"], "int_parsing"),
        ("GET", f"{logs_path(1)}?reverse=maybe", None, ["query", "reverse"], "bool_parsing"),
    ],
)  # fmt: skip
def test_invalid_input_is_422_with_fastapi_detail(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
    method: str,
    path: str,
    body: Any,
    loc: list[Any],
    kind: str,
) -> None:
    if isinstance(body, bytes):
        answer = client.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
    else:
        answer = client.request(method, path, json=body)

    assert answer.status_code == 422
    assert {"loc": loc, "type": kind} in [
        {"loc": d["loc"], "type": d["type"]} for d in answer.json()["detail"]
    ]
    assert codegen_server.runs() == []
    # The request broke the contract, and the server noticed; its 422 answer did not.
    violations = codegen_server.take_contract_violations()
    assert violations and all(": request: " in v for v in violations)


# -- rate limits --------------------------------------------------------------------------


def test_create_limit_is_ten_per_minute_and_rejections_take_no_slot(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    clock = clock_of(codegen_server)
    assert [create(client).status_code for _ in range(10)] == [200] * 10

    over = create(client)
    assert over.status_code == 429
    assert over.json() == RATE_LIMITED
    assert over.headers["Retry-After"] == "60"
    assert client.get("/v1/users/me").status_code == 200  # other classes are unaffected

    clock.advance(30)
    assert create(client).headers["Retry-After"] == "30"
    clock.advance(30)
    assert [create(client).status_code for _ in range(11)] == [200] * 10 + [429]
    assert len(codegen_server.runs()) == 20
    assert codegen_server.count(limit_class="create", status=429) == 3
    assert codegen_server.calls[-1].at == clock.monotonic()


def test_window_slides_rather_than_resetting(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    clock = clock_of(codegen_server)
    for _ in range(10):
        assert create(client).status_code == 200
        clock.advance(1)  # creates at t = 0 .. 9

    assert create(client).headers["Retry-After"] == "50"  # t = 10; the t = 0 slot frees at 60
    clock.advance(50)
    assert create(client).status_code == 200
    over = create(client)
    assert over.status_code == 429
    assert over.headers["Retry-After"] == "1"  # the t = 1 slot frees at 61


def test_standard_and_logs_classes_have_their_own_limits() -> None:
    clock = FakeClock()
    with make_codegen_server(clock, standard_limit=3, logs_limit=2) as server:
        run = server.add_run()
        http = open_client(server)
        standard = [http.get("/v1/users/me"), http.get(RUNS), http.get(f"{CREATE}/{run['id']}")]
        over = http.get(f"{ORG}/integrations")
        logs = [http.get(logs_path(run["id"])).status_code for _ in range(3)]
        created = create(http).status_code
        clock.advance(30)
        after_window = http.get("/v1/users/me").status_code
        http.close()

        assert [r.status_code for r in standard] == [200, 200, 200]
        assert (over.status_code, over.headers["Retry-After"]) == (429, "30")
        assert logs == [200, 200, 429]
        assert created == 200
        assert after_window == 200
        assert server.count(limit_class="logs", status=429) == 1
        assert server.count(limit_class="standard", status=429) == 1
        assert server.contract_violations == []


def test_limits_change_at_runtime(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    codegen_server.set_limits(create=2)
    assert [create(client).status_code for _ in range(3)] == [200, 200, 429]

    codegen_server.set_limits(create=1000)
    assert [create(client).status_code for _ in range(20)] == [200] * 20
    with pytest.raises(ValueError):
        codegen_server.set_limits(standard=0)


# -- fault injection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (402, RUN_LIMIT_REACHED),
        (403, FORBIDDEN),
        (404, NO_REPOS),
        (500, {"message": "Internal Server Error"}),
        (503, {"message": "Service Unavailable"}),
    ],
)
def test_fail_next_answers_with_the_spec_body_and_does_nothing(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
    status: int,
    body: dict[str, Any],
) -> None:
    codegen_server.fail_next(1, status, path="create_run")

    failed = create(client)
    assert (failed.status_code, failed.json()) == (status, body)
    assert codegen_server.runs() == []
    assert create(client).status_code == 200


def test_injected_429_carries_retry_after_and_takes_no_slot(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    codegen_server.set_limits(create=1)
    codegen_server.fail_next(2, 429, method="post")

    answers = [create(client) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].json() == RATE_LIMITED
    assert answers[0].headers["Retry-After"] == "1"


def test_fault_filters_pick_method_and_path(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    run = codegen_server.add_run(status="COMPLETE")
    codegen_server.fail_next(1, 500, path="/agent/runs")
    codegen_server.fail_next(1, 503, method="POST")

    assert client.get(f"{CREATE}/{run['id']}").status_code == 200
    assert client.get("/v1/users/me").status_code == 200
    assert client.get(RUNS).status_code == 500
    assert client.post(RESUME, json={"agent_run_id": run["id"], "prompt": "go"}).status_code == 503
    assert client.get(RUNS).status_code == 200
    assert codegen_server.count(path="list_runs") == 2
    assert codegen_server.count(path="list_runs", status=500) == 1


def test_delay_next_processes_then_waits(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    codegen_server.delay_next(1, 0.3, path="create_run")
    with pytest.raises(httpx.ReadTimeout):
        client.post(CREATE, json={"prompt": "slow"}, timeout=0.05)
    assert len(codegen_server.runs()) == 1  # created before the answer was due

    codegen_server.delay_next(1, 0.1, path="me")
    started = time.perf_counter()
    assert client.get("/v1/users/me").status_code == 200
    assert time.perf_counter() - started >= 0.1


def test_delay_without_answer_closes_the_connection(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    codegen_server.delay_next(1, 0.05, path="create_run", then_respond=False)

    with pytest.raises(httpx.RemoteProtocolError):
        create(client)
    assert len(codegen_server.runs()) == 1


@pytest.mark.parametrize(("process", "runs_made"), [(False, 0), (True, 1)])
def test_drop_next_closes_without_answer(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
    process: bool,
    runs_made: int,
) -> None:
    codegen_server.drop_next(1, path="create_run", process=process)

    with pytest.raises(httpx.RemoteProtocolError):
        create(client)
    assert len(codegen_server.runs()) == runs_made
    assert codegen_server.count(status=DROPPED) == 1
    assert create(client).status_code == 200


# -- run lifecycle ------------------------------------------------------------------------


def test_run_lifecycle_create_finish_resume(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    repo = codegen_server.add_repo("acme/api")
    metadata = {"slack": {"channel": "C123", "thread_ts": "1700000000.000100"}}
    run = create(
        client, "Fix the login bug", metadata=metadata, repo_id=repo["id"], model="claude-sonnet",
        agent_type="claude_code", images=["data:image/png;base64,iVBORw0KGgo="],
    ).json()  # fmt: skip

    expected_time = datetime.fromtimestamp(codegen_server.clock.now(), tz=UTC).isoformat()
    assert run["status"] == "ACTIVE"
    assert run["source_type"] == "API"
    assert run["metadata"] == metadata
    assert run["created_at"] == expected_time
    assert run["web_url"] == f"https://codegen.com/agent/trace/{run['id']}"
    assert codegen_server.run_inputs(run["id"]) == {
        "user_id": codegen_server.me["id"],
        "prompt": "Fix the login bug",
        "images": ["data:image/png;base64,iVBORw0KGgo="],
        "repo_id": repo["id"],
        "model": "claude-sonnet",
        "agent_type": "claude_code",
        "resumes": [],
    }

    codegen_server.set_status(run["id"], "COMPLETE", result="Fixed it", summary="Opened a PR")
    pr = codegen_server.add_pull_request(
        run["id"], title="Fix login", url="https://github.com/acme/api/pull/9"
    )
    finished = client.get(f"{CREATE}/{run['id']}").json()
    assert (finished["status"], finished["result"], finished["summary"]) == (
        "COMPLETE", "Fixed it", "Opened a PR",
    )  # fmt: skip
    assert finished["github_pull_requests"] == [pr]
    assert pr["head_branch_name"] == "codegen/fix"

    resumed = client.post(RESUME, json={"agent_run_id": run["id"], "prompt": "Add a test too"})
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "ACTIVE"
    last_log = client.get(logs_path(run["id"]), params={"reverse": True}).json()["logs"][0]
    assert (last_log["message_type"], last_log["observation"]) == (
        "USER_MESSAGE", "Add a test too",
    )  # fmt: skip
    assert codegen_server.run_inputs(run["id"])["resumes"] == [
        {"prompt": "Add a test too", "images": None}
    ]

    again = client.post(RESUME, json={"agent_run_id": run["id"], "prompt": "And docs"})
    assert again.status_code == 422
    assert again.json() == {
        "detail": [
            {"loc": ["body", "agent_run_id"], "msg": "Agent run is not paused",
             "type": "value_error"}
        ]
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "answer"),
    [("PENDING", 422), ("RUNNING", 422), ("FAILED", 200), ("STOPPED", 200), ("ERROR", 200)],
)
def test_only_paused_runs_resume(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
    status: str,
    answer: int,
) -> None:
    run = codegen_server.add_run(status=status)

    resumed = client.post(RESUME, json={"agent_run_id": run["id"], "prompt": "continue"})

    assert resumed.status_code == answer
    assert codegen_server.run(run["id"])["status"] == ("ACTIVE" if answer == 200 else status)


def test_unknown_runs_users_and_repos_are_404(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    assert client.get(f"{CREATE}/99").json() == RUN_NOT_FOUND
    assert client.get(logs_path(99)).json() == RUN_NOT_FOUND
    assert client.post(RESUME, json={"agent_run_id": 99, "prompt": "x"}).json() == RUN_NOT_FOUND
    assert client.get(f"{ORG}/users/99").json() == USER_NOT_FOUND
    no_repo = create(client, repo_id=99)
    assert (no_repo.status_code, no_repo.json()) == (404, NO_REPOS)
    assert codegen_server.runs() == []
    assert codegen_server.count(status=404) == 5


def test_run_ids_increase_and_seeding_checks_field_names(
    codegen_server: CodegenServer,  # noqa: F811
) -> None:
    first, second = codegen_server.add_run(), codegen_server.add_run()

    assert second["id"] > first["id"]
    with pytest.raises(TypeError):
        codegen_server.add_run(state="ACTIVE")
    with pytest.raises(TypeError):
        codegen_server.add_log(first["id"], thougth="typo")
    with pytest.raises(KeyError):
        codegen_server.set_status(12345, "COMPLETE")


# -- listing --------------------------------------------------------------------------------


def test_list_runs_filters_and_pages_newest_first(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    me = codegen_server.me["id"]
    other = codegen_server.add_user()["id"]
    mine = [codegen_server.add_run()["id"] for _ in range(3)]
    theirs = [codegen_server.add_run(user_id=other)["id"] for _ in range(2)]
    from_slack = codegen_server.add_run(source_type="SLACK")["id"]

    def ids(**params: Any) -> list[int]:
        return [r["id"] for r in client.get(RUNS, params=params).json()["items"]]

    assert ids(user_id=me, source_type="API") == mine[::-1]
    assert ids(user_id=other) == theirs[::-1]
    assert ids(source_type="SLACK") == [from_slack]
    assert ids() == sorted([*mine, *theirs, from_slack], reverse=True)

    page = client.get(RUNS, params={"skip": 2, "limit": 2}).json()
    assert {k: page[k] for k in ("total", "page", "size", "pages")} == {
        "total": 6, "page": 2, "size": 2, "pages": 3,
    }  # fmt: skip
    assert [r["id"] for r in page["items"]] == [theirs[0], mine[2]]


def test_logs_page_in_order_or_reversed(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    run = codegen_server.add_run()
    for step in range(5):
        codegen_server.add_log(run["id"], thought=f"step {step}", tool_name="bash")

    def thoughts(**params: Any) -> list[str]:
        page = client.get(logs_path(run["id"]), params=params).json()
        return [log["thought"] for log in page["logs"]]

    assert thoughts(skip=1, limit=2) == ["step 1", "step 2"]
    assert thoughts(reverse=True, limit=2) == ["step 4", "step 3"]
    page = client.get(logs_path(run["id"]), params={"skip": 4, "limit": 2}).json()
    assert (page["total_logs"], page["page"], page["pages"]) == (5, 3, 3)


def test_users_and_repos_page(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    for n in range(3):
        codegen_server.add_user()
        codegen_server.add_repo(f"acme/repo-{n}")

    users = client.get(f"{ORG}/users", params={"skip": 2, "limit": 2}).json()
    repos = client.get(f"{ORG}/repos", params={"limit": 2}).json()

    assert (users["total"], len(users["items"]), users["pages"]) == (4, 2, 2)
    assert [r["full_name"] for r in repos["items"]] == ["acme/repo-0", "acme/repo-1"]
    assert repos["total"] == 3


# -- concurrency and lifecycle ------------------------------------------------------------


def test_concurrent_creates_get_distinct_runs(
    codegen_server: CodegenServer,  # noqa: F811
) -> None:
    codegen_server.set_limits(create=1000)

    def post(n: int) -> int:
        with open_client(codegen_server) as own_connection:
            return int(create(own_connection, f"task {n}").json()["id"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(post, range(64)))

    assert len(set(ids)) == 64
    assert sorted(r["id"] for r in codegen_server.runs()) == sorted(ids)


def test_stop_closes_the_port() -> None:
    with make_codegen_server() as server, open_client(server) as http:
        assert http.get("/v1/users/me").status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            http.get("/v1/users/me")
