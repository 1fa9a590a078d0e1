"""The fake Codegen API's pull-request, flag and setup-command calls: answers, errors and limits as the
spec says (PR edits 30 a minute, setup commands 5 a minute)."""

from __future__ import annotations

import httpx

from tests.servers.codegen_fixtures import codegen_server  # noqa: F401
from tests.servers.codegen_server import RATE_LIMITED, RUN_NOT_FOUND, CodegenServer
from tests.test_codegen_server import ORG, client, clock_of  # noqa: F401

PR_URL = "https://github.com/acme/web/pull/1"


def run_with_pr(server: CodegenServer) -> tuple[dict, dict, dict]:
    repo = server.add_repo("acme/web")
    run = server.add_run(prompt="fix", repo_id=repo["id"], status="COMPLETE")
    return repo, run, server.add_pull_request(run["id"], title="Fix", url=PR_URL)


def test_pr_edits_follow_githubs_rules_and_answer_edit_pr_response(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,  # noqa: F811
) -> None:
    repo, _, pr = run_with_pr(codegen_server)
    draft = client.patch(f"{ORG}/prs/{pr['id']}", json={"state": "draft"}).json()
    assert draft == {
        "success": True, "url": PR_URL, "number": 1, "title": "Fix", "state": "draft", "error": None,
    }  # fmt: skip
    closed = client.patch(f"{ORG}/repos/{repo['id']}/prs/{pr['id']}", json={"state": "closed"})
    assert closed.json()["state"] == "closed"
    refused = client.patch(f"{ORG}/prs/{pr['id']}", json={"state": "draft"}).json()
    assert refused["success"] is False and "closed" in refused["error"]  # reopen first
    other_repo = f"{ORG}/repos/{repo['id'] + 99}/prs/{pr['id']}"
    assert client.patch(other_repo, json={"state": "open"}).status_code == 404
    assert client.patch(f"{ORG}/prs/{pr['id'] + 99}", json={"state": "open"}).status_code == 404
    invalid = client.patch(f"{ORG}/prs/{pr['id']}", json={"state": "merged"})
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "state"]
    assert all(": request: " in v for v in codegen_server.take_contract_violations())  # it broke the spec
    codegen_server.set_pull_request(pr["id"], writable=False)
    assert client.patch(f"{ORG}/prs/{pr['id']}", json={"state": "open"}).status_code == 403
    assert codegen_server.pull_request(pr["id"])["state"] == "closed"


def test_pr_edits_are_limited_to_thirty_a_minute(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,  # noqa: F811
) -> None:
    _, _, pr = run_with_pr(codegen_server)
    answers = [client.patch(f"{ORG}/prs/{pr['id']}", json={"state": "draft"}) for _ in range(31)]
    assert [a.status_code for a in answers] == [200] * 30 + [429]
    assert answers[-1].json() == RATE_LIMITED and answers[-1].headers["Retry-After"] == "60"
    assert client.post(f"{ORG}/agent/run/ban", json={"agent_run_id": 1}).status_code == 404  # its own class
    clock_of(codegen_server).advance(60)
    assert client.patch(f"{ORG}/prs/{pr['id']}", json={"state": "open"}).status_code == 200


def test_flags_need_a_run_with_a_pr_and_stop_its_agents(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,  # noqa: F811
) -> None:
    _, run, pr = run_with_pr(codegen_server)
    working = codegen_server.add_run(prompt="other")
    assert client.post(f"{ORG}/agent/run/ban", json={"agent_run_id": 99}).json() == RUN_NOT_FOUND
    assert client.post(f"{ORG}/agent/run/ban", json={"agent_run_id": working["id"]}).status_code == 422
    assert client.post(f"{ORG}/agent/run/ban", json={"agent_run_id": run["id"]}).status_code == 200
    assert codegen_server.pull_request(pr["id"])["checks_banned"] is True
    assert client.post(f"{ORG}/agent/run/unban", json={"agent_run_id": run["id"]}).status_code == 200
    assert codegen_server.pull_request(pr["id"])["checks_banned"] is False
    assert client.post(f"{ORG}/agent/run/remove-from-pr", json={"agent_run_id": run["id"]}).status_code == 200
    assert codegen_server.pull_request(pr["id"])["removed"] is True
    assert client.post(f"{ORG}/agent/run/ban", json={}).status_code == 422
    assert all(": request: " in v for v in codegen_server.take_contract_violations())  # it broke the spec


def test_setup_commands_start_a_run_five_a_minute(
    codegen_server: CodegenServer,  # noqa: F811
    client: httpx.Client,  # noqa: F811
) -> None:
    repo = codegen_server.add_repo("acme/web")
    path = f"{ORG}/setup-commands/generate"
    answers = [client.post(path, json={"repo_id": repo["id"], "prompt": "poetry"}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    made = answers[0].json()
    assert set(made) == {"agent_run_id", "status", "url"}
    assert codegen_server.run(made["agent_run_id"])["source_type"] == "SETUP_COMMANDS"
    assert codegen_server.run_inputs(made["agent_run_id"])["prompt"] == "poetry"
    clock_of(codegen_server).advance(60)
    assert client.post(path, json={"repo_id": repo["id"] + 99}).status_code == 404
    assert client.post(path, json={}).status_code == 422
    assert all(": request: " in v for v in codegen_server.take_contract_violations())  # it broke the spec
