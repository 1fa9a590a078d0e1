"""The Codegen client against the fake Codegen API over loopback, on a shared fake clock."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import httpx
import pytest

from bot.codegen import (
    FINISHED_STATUSES,
    IDEMPOTENCY_KEY,
    AccessDenied,
    AgentRun,
    CodegenClient,
    CodegenError,
    CodegenUnavailable,
    InvalidRequest,
    PlanLimitReached,
    RateLimited,
    RateLimits,
    RepositoryNotFound,
    RunNotFound,
    RunNotResumable,
)
from tests.fakeclock import FakeClock
from tests.servers.codegen_server import CodegenServer

TOKEN = "test-codegen-token"  # the fake server's defaults
ORG_ID = 7
ClientFactory = Callable[..., CodegenClient]


@pytest.fixture
def server(codegen_server: CodegenServer) -> CodegenServer:
    """The fake Codegen API (contract-checked at teardown) on its own FakeClock."""
    return codegen_server


@pytest.fixture
def clock(server: CodegenServer) -> FakeClock:
    """The server's FakeClock, shared with every client a test makes."""
    assert isinstance(server.clock, FakeClock)
    return server.clock


@pytest.fixture
def make_client(server: CodegenServer, clock: FakeClock) -> Iterator[ClientFactory]:
    clients: list[CodegenClient] = []

    def make(**overrides: object) -> CodegenClient:
        options: dict[str, object] = {
            "base_url": server.url,
            "token": TOKEN,
            "org_id": ORG_ID,
            "clock": clock,
            "timeout": 5.0,
        } | overrides
        client = CodegenClient(**options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> CodegenClient:
    return make_client()


# -- every call ---------------------------------------------------------------------------------


def test_me_returns_the_token_owner(client: CodegenClient, server: CodegenServer) -> None:
    me = client.me()
    assert (me.id, me.github_username, me.role) == (server.me["id"], "dev-user", "ADMIN")


def test_listings_return_every_page(client: CodegenClient, server: CodegenServer) -> None:
    for i in range(150):
        server.add_user(github_username=f"member{i}")
    for i in range(120):
        server.add_repo(f"acme/repo{i}")

    users = client.users()
    repos = client.repositories()
    orgs = client.organizations()

    assert len(users) == 151
    assert len({u.id for u in users}) == 151
    assert [r.full_name for r in repos] == [f"acme/repo{i}" for i in range(120)]
    assert server.count(path="users") == 2
    assert server.count(path="repos") == 2
    assert [(o.id, o.name) for o in orgs] == [(ORG_ID, "Test Org")]
    assert orgs[0].settings.enable_pr_creation


def test_integrations_lists_what_the_org_has_connected(client: CodegenClient) -> None:
    integrations = client.integrations()
    assert integrations.organization_id == ORG_ID
    assert {i.integration_type for i in integrations.integrations if i.active} == {
        "github",
        "slack",
    }
    assert integrations.total_active_integrations == 2


def test_create_run_sends_the_inputs_and_tags_the_run_with_an_idempotency_key(
    client: CodegenClient, server: CodegenServer
) -> None:
    repo = server.add_repo("acme/api")
    run = client.create_run(
        "Fix the flaky test",
        images=["data:image/png;base64,iVBORw0KGgo="],
        metadata={"slack_channel": "C1"},
        repo_id=repo["id"],
        model="claude-sonnet",
        agent_type="claude_code",
        idempotency_key="key-1",
    )
    assert run.id == server.runs()[0]["id"]
    assert run.status == "ACTIVE"
    assert not run.is_finished
    assert run.metadata == {"slack_channel": "C1", IDEMPOTENCY_KEY: "key-1"}
    inputs = server.run_inputs(run.id)
    assert inputs["prompt"] == "Fix the flaky test"
    assert inputs["images"] == ["data:image/png;base64,iVBORw0KGgo="]
    assert (inputs["repo_id"], inputs["model"], inputs["agent_type"]) == (
        repo["id"],
        "claude-sonnet",
        "claude_code",
    )


def test_create_run_makes_up_a_fresh_key_when_none_is_given(client: CodegenClient) -> None:
    first = client.create_run("one")
    second = client.create_run("two")
    keys = [r.metadata[IDEMPOTENCY_KEY] for r in (first, second) if r.metadata]
    assert len(keys) == 2
    assert keys[0] != keys[1]


def test_get_run_shows_status_result_and_pull_requests(client: CodegenClient, server: CodegenServer) -> None:
    run_id = server.add_run(prompt="Add a README")["id"]
    server.set_status(run_id, "COMPLETE", result="Opened a PR", summary="README added")
    server.add_pull_request(
        run_id, title="Add README", url="https://github.com/acme/api/pull/1", head_branch="docs"
    )
    run = client.get_run(run_id)
    assert run.is_finished
    assert (run.status, run.result, run.summary) == ("COMPLETE", "Opened a PR", "README added")
    assert run.github_pull_requests is not None
    pr = run.github_pull_requests[0]
    assert (pr.title, pr.url, pr.head_branch_name) == (
        "Add README",
        "https://github.com/acme/api/pull/1",
        "docs",
    )


def test_an_unknown_status_passes_through_and_counts_as_running(
    client: CodegenClient, server: CodegenServer
) -> None:
    run_id = server.add_run(status="WAITING_FOR_CI")["id"]
    run = client.get_run(run_id)
    assert run.status == "WAITING_FOR_CI"
    assert not run.is_finished


@pytest.mark.parametrize("status", sorted(FINISHED_STATUSES))
def test_every_terminal_status_counts_as_finished(status: str) -> None:
    assert AgentRun(id=1, organization_id=7, status=status).is_finished


def test_models_keep_fields_the_spec_does_not_know() -> None:
    run = AgentRun.model_validate({"id": 1, "organization_id": 7, "cost_usd": 0.42})
    assert run.model_extra == {"cost_usd": 0.42}


def test_list_runs_filters_and_clamps_the_page_size(client: CodegenClient, server: CodegenServer) -> None:
    other = server.add_user()
    mine = [server.add_run(prompt=f"mine {i}")["id"] for i in range(3)]
    server.add_run(prompt="theirs", user_id=other["id"])
    server.add_run(prompt="from slack", source_type="SLACK")

    page = client.list_runs(user_id=server.me["id"], source_type="API", limit=500)
    assert [r.id for r in page.items] == mine[::-1]  # newest first
    assert (page.total, page.size, page.pages) == (3, 100, 1)
    assert client.list_runs(limit=0).size == 1
    assert client.list_runs().total == 5


def test_resume_run_delivers_the_prompt_to_a_paused_run(client: CodegenClient, server: CodegenServer) -> None:
    run_id = server.add_run(status="COMPLETE")["id"]
    run = client.resume_run(run_id, "Also update the changelog")
    assert run.status == "ACTIVE"
    assert server.run_inputs(run_id)["resumes"] == [{"prompt": "Also update the changelog", "images": None}]


def test_run_logs_pages_through_a_runs_steps(client: CodegenClient, server: CodegenServer) -> None:
    run_id = server.add_run()["id"]
    server.add_log(run_id, "PLAN_EVALUATION", thought="Look at the tests first")
    server.add_log(run_id, "ACTION", tool_name="run_tests", tool_input={"path": "tests"})
    server.add_log(run_id, "FINAL_ANSWER", observation="All green")

    logs = client.run_logs(run_id)
    assert [entry.message_type for entry in logs.logs] == [
        "PLAN_EVALUATION",
        "ACTION",
        "FINAL_ANSWER",
    ]
    assert logs.logs[1].tool_input == {"path": "tests"}
    newest = client.run_logs(run_id, limit=1, reverse=True)
    assert [entry.observation for entry in newest.logs] == ["All green"]
    assert (newest.total_logs, newest.pages) == (3, 3)
    assert server.count(limit_class="logs") == 2


# -- errors -------------------------------------------------------------------------------------


def test_402_means_the_plan_is_used_up(client: CodegenClient, server: CodegenServer) -> None:
    server.fail_next(1, 402, path="create_run")
    with pytest.raises(PlanLimitReached) as caught:
        client.create_run("anything")
    assert caught.value.status_code == 402
    assert caught.value.user_message.startswith("Your Codegen plan's agent-run allowance is used up")
    assert server.count(path="create_run") == 1


@pytest.mark.parametrize("overrides", [{"token": "wrong-token-value"}, {"org_id": 8}], ids=["token", "org"])
def test_403_says_which_settings_to_check(make_client: ClientFactory, overrides: dict[str, object]) -> None:
    with pytest.raises(AccessDenied) as caught:
        make_client(**overrides).get_run(1)
    message = caught.value.user_message
    assert "CODEGEN_API_TOKEN" in message
    assert "CODEGEN_ORG_ID" in message
    assert caught.value.status_code == 403
    assert "wrong-token-value" not in str(caught.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_run(99),
        lambda c: c.run_logs(99),
        lambda c: c.resume_run(99, "hello"),
    ],
    ids=["get_run", "run_logs", "resume_run"],
)
def test_404_on_a_run_path_is_run_not_found(
    client: CodegenClient, call: Callable[[CodegenClient], object]
) -> None:
    with pytest.raises(RunNotFound) as caught:
        call(client)
    assert caught.value.status_code == 404


def test_404_on_create_is_repository_not_found(client: CodegenClient, server: CodegenServer) -> None:
    with pytest.raises(RepositoryNotFound) as caught:
        client.create_run("work on it", repo_id=31337)
    assert "repository" in caught.value.user_message
    assert server.runs() == []


def test_422_lists_what_was_invalid(client: CodegenClient, server: CodegenServer) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.list_runs(source_type="CARRIER_PIGEON")
    assert "source_type" in caught.value.user_message
    assert caught.value.errors[0]["loc"] == ["query", "source_type"]
    # The request broke the contract on purpose; nothing else may have.
    assert all("source_type" in v for v in server.take_contract_violations())


def test_invalid_input_is_refused_before_anything_is_sent(
    client: CodegenClient, server: CodegenServer
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.create_run("x", agent_type="gpt-intern")  # type: ignore[arg-type]
    assert "agent_type" in caught.value.user_message
    assert server.calls == []


def test_resuming_a_busy_run_is_not_resumable_and_not_retried(
    client: CodegenClient, server: CodegenServer
) -> None:
    run_id = server.add_run(status="ACTIVE")["id"]
    with pytest.raises(RunNotResumable) as caught:
        client.resume_run(run_id, "and one more thing")
    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.status_code == 422
    assert server.count(path="resume_run") == 1
    assert server.run_inputs(run_id)["resumes"] == []


def test_429_once_is_retried_after_retry_after(
    client: CodegenClient, server: CodegenServer, clock: FakeClock
) -> None:
    server.fail_next(1, 429, path="create_run")
    run = client.create_run("go")
    assert [r["id"] for r in server.runs()] == [run.id]
    assert server.count(path="create_run", status=429) == 1
    assert clock.slept == [1.0]  # the server's Retry-After


def test_429_that_keeps_coming_raises_rate_limited_and_holds_back_other_callers(
    client: CodegenClient, server: CodegenServer, clock: FakeClock
) -> None:
    server.fail_next(5, 429, path="get_run")
    with pytest.raises(RateLimited) as caught:
        client.get_run(server.add_run()["id"])
    assert caught.value.status_code == 429
    assert server.count(path="get_run") == 5
    assert clock.slept == [1.0] * 4
    # The penalty sits on the shared limiter: nobody sends another standard call for 1 s.
    assert client.limits.standard.wait_time() == 1.0


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(None, 1.0), ("7", 7.0), ("http-date", 30.0), ("soon", 1.0)],
    ids=["absent", "seconds", "http-date", "garbage"],
)
def test_retry_after_is_seconds_or_a_date_and_one_second_when_absent(
    retry_after: str | None, expected: float
) -> None:
    clock = FakeClock()
    if retry_after == "http-date":
        retry_after = formatdate(clock.now() + 30, usegmt=True)
    headers = {"Retry-After": retry_after} if retry_after else {}
    user = {"id": 1, "github_user_id": "1", "github_username": "dev"}
    answers = [httpx.Response(429, headers=headers, json={}), httpx.Response(200, json=user)]
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    with CodegenClient(token=TOKEN, org_id=ORG_ID, clock=clock, transport=transport) as client:
        assert client.me().github_username == "dev"
    assert clock.slept == [expected]


def test_an_unreachable_api_is_unavailable() -> None:
    clock = FakeClock()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        CodegenClient(base_url=f"http://127.0.0.1:{port}", token=TOKEN, org_id=ORG_ID, clock=clock) as client,
        pytest.raises(CodegenUnavailable) as caught,
    ):
        client.me()
    assert caught.value.status_code is None
    assert len(clock.slept) == 4  # five attempts, backed off in between
    assert TOKEN not in str(caught.value)


def test_5xx_on_get_is_retried_with_backoff_then_succeeds(
    client: CodegenClient, server: CodegenServer, clock: FakeClock
) -> None:
    server.fail_next(2, 502, path="list_runs")
    assert client.list_runs().total == 0
    assert server.count(path="list_runs") == 3
    assert len(clock.slept) == 2
    assert 0 <= clock.slept[0] <= 0.5
    assert 0 <= clock.slept[1] <= 1.0  # exponential ceiling: base * 2**(attempt-1)


def test_5xx_on_get_after_every_attempt_is_unavailable(client: CodegenClient, server: CodegenServer) -> None:
    server.fail_next(5, 503, path="integrations")
    with pytest.raises(CodegenUnavailable) as caught:
        client.integrations()
    assert caught.value.status_code == 503
    assert server.count(path="integrations") == 5


def test_a_dropped_get_is_retried(client: CodegenClient, server: CodegenServer) -> None:
    run_id = server.add_run()["id"]
    server.drop_next(1, path="get_run")
    assert client.get_run(run_id).id == run_id
    assert server.count(path="get_run") == 2


def test_retries_are_logged_without_the_token(
    client: CodegenClient, server: CodegenServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(1, 429, path="me")
    server.fail_next(1, 500, path="me")
    with caplog.at_level(logging.DEBUG, logger="codegen_slack.codegen"):
        client.me()
    messages = [r.getMessage() for r in caplog.records if r.name == "codegen_slack.codegen"]
    assert any("429" in m for m in messages)
    assert any("HTTP 500" in m for m in messages)
    assert not any(TOKEN in m or "Bearer" in m for m in messages)


def test_every_error_is_a_codegen_error_with_a_user_message() -> None:
    for error in (
        PlanLimitReached,
        AccessDenied,
        RunNotFound,
        RepositoryNotFound,
        InvalidRequest,
        RunNotResumable,
        RateLimited,
        CodegenUnavailable,
    ):
        exc = error()
        assert isinstance(exc, CodegenError)
        assert exc.user_message
        assert str(exc).startswith(exc.user_message)


# -- staying inside the rate limits ---------------------------------------------------------------


def test_a_burst_of_creates_from_many_threads_is_spread_out_and_never_hits_429(
    client: CodegenClient, server: CodegenServer, clock: FakeClock
) -> None:
    start = clock.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        runs = list(pool.map(lambda i: client.create_run(f"task {i}"), range(30)))
    assert len({r.id for r in runs}) == 30
    assert len(server.runs()) == 30
    assert server.count(status=429) == 0
    assert clock.monotonic() - start >= 120  # 30 creates at 10 per minute


def test_clients_sharing_rate_limits_share_the_budget(
    make_client: ClientFactory, server: CodegenServer, clock: FakeClock
) -> None:
    limits = RateLimits.from_counts(creates_per_minute=2, clock=clock)
    first, second = make_client(limits=limits), make_client(limits=limits)
    server.set_limits(create=2)
    start = clock.monotonic()
    first.create_run("a")
    second.create_run("b")
    first.create_run("c")
    assert clock.monotonic() - start >= 60
    assert server.count(status=429) == 0


def test_a_background_share_leaves_slots_for_interactive_callers(
    client: CodegenClient, server: CodegenServer, clock: FakeClock
) -> None:
    run_id = server.add_run()["id"]
    start = clock.monotonic()
    for _ in range(48):  # 80 % of 60 per 30 s
        client.get_run(run_id, share=0.8)
    assert clock.monotonic() == start
    assert client.limits.standard.wait_time(share=0.8) > 0
    for _ in range(12):  # the remaining 20 % is still there for people in Slack
        client.get_run(run_id)
    assert clock.monotonic() == start
    client.get_run(run_id, share=0.8)  # the watcher waits for the window to slide
    assert clock.monotonic() >= start + 30
    assert server.count(status=429) == 0


# -- writes are never duplicated ------------------------------------------------------------------


def test_a_create_that_times_out_is_found_instead_of_made_twice(
    make_client: ClientFactory, server: CodegenServer
) -> None:
    client = make_client(timeout=0.3)
    server.delay_next(1, 1.0, path="create_run")
    run = client.create_run("slow start", idempotency_key="slack-T1-C1-123")
    assert [r["id"] for r in server.runs()] == [run.id]
    assert run.metadata is not None
    assert run.metadata[IDEMPOTENCY_KEY] == "slack-T1-C1-123"


def test_a_create_whose_connection_drops_after_it_took_effect_is_found(
    client: CodegenClient, server: CodegenServer
) -> None:
    server.drop_next(1, path="create_run", process=True)
    run = client.create_run("dropped")
    assert [r["id"] for r in server.runs()] == [run.id]
    assert server.count(path="create_run") == 1
    # The lookup is the CLI's "my API runs": who am I, then my recent API runs.
    assert server.count(path="me") == 1
    assert server.count(path="list_runs") == 1


def test_a_lost_create_is_found_below_newer_runs_down_to_when_it_was_tried(
    client: CodegenClient, server: CodegenServer, clock: FakeClock
) -> None:
    """After a restart the bot looks for a create whose answer it never got: the run may be under
    a hundred newer ones (a busy organization), but not older than the request."""
    tried_at = clock.now()
    server.add_run(metadata={IDEMPOTENCY_KEY: "lost"})
    for _ in range(150):
        server.add_run(metadata={IDEMPOTENCY_KEY: "someone-else"})
    found = client.find_run_by_key("lost", since=tried_at)
    assert found is not None and found.metadata == {IDEMPOTENCY_KEY: "lost"}
    assert server.count(path="list_runs") == 2
    clock.advance(3600)  # a request made an hour after every run: the newest page is already older
    assert client.find_run_by_key("never-made", since=clock.now()) is None
    assert server.count(path="list_runs") == 3


def test_a_create_that_failed_with_500_is_made_once_on_retry(
    client: CodegenClient, server: CodegenServer
) -> None:
    server.fail_next(1, 500, path="create_run")
    run = client.create_run("second time lucky")
    assert [r["id"] for r in server.runs()] == [run.id]
    assert server.count(path="create_run") == 2


def test_the_lookup_only_matches_its_own_key(client: CodegenClient, server: CodegenServer) -> None:
    server.add_run(metadata={IDEMPOTENCY_KEY: "someone-else"})
    server.drop_next(1, path="create_run")  # not processed: the run was never made
    run = client.create_run("mine", idempotency_key="mine")
    assert len(server.runs()) == 2
    assert run.metadata == {IDEMPOTENCY_KEY: "mine"}


def test_a_resume_that_times_out_is_not_sent_again(make_client: ClientFactory, server: CodegenServer) -> None:
    client = make_client(timeout=0.3)
    run_id = server.add_run(status="COMPLETE")["id"]
    server.delay_next(1, 1.0, path="resume_run")
    with pytest.raises(CodegenUnavailable):
        client.resume_run(run_id, "once only")
    # Delivered once; a second send would also have met a 422, the run being ACTIVE again.
    assert len(server.run_inputs(run_id)["resumes"]) == 1


def test_a_resume_rate_limited_once_is_retried(client: CodegenClient, server: CodegenServer) -> None:
    run_id = server.add_run(status="COMPLETE")["id"]
    server.fail_next(1, 429, path="resume_run")
    client.resume_run(run_id, "after a pause")
    assert server.run_inputs(run_id)["resumes"] == [{"prompt": "after a pause", "images": None}]


def test_the_client_is_safe_to_share_between_threads(client: CodegenClient, server: CodegenServer) -> None:
    run_ids = [server.add_run()["id"] for _ in range(5)]
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            for run_id in run_ids:
                assert client.get_run(run_id, share=0.8).id == run_id
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert server.count(status=429) == 0
