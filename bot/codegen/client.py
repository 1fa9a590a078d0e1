"""The Codegen REST client: typed calls for one organization.

`CodegenClient` puts together how a call is sent (bot.codegen.http_calls: limits, retries, typed
errors) with the endpoints: the token's user and the organization here, agent runs in
bot.codegen.run_calls, pull requests and setup commands in bot.codegen.pr_calls.
"""

from __future__ import annotations

from bot.codegen.bodies import parser
from bot.codegen.http_calls import HttpCalls
from bot.codegen.models import Integrations, Organization, Repository, User
from bot.codegen.pr_calls import PullRequestCalls
from bot.codegen.run_calls import RunCalls


class CodegenClient(RunCalls, PullRequestCalls, HttpCalls):
    """Calls Codegen's REST API for one organization; thread-safe, share one per process.
    See `HttpCalls` for the arguments."""

    def me(self) -> User:
        """The user the API token belongs to (`GET /v1/users/me`)."""
        user = self._request("GET", "/v1/users/me", self.limits.standard, parse=parser(User))
        self._my_user_id = user.id
        return user

    def organizations(self) -> list[Organization]:
        """Every organization the token can see, all pages (`GET /v1/organizations`)."""
        return self._all_pages("/v1/organizations", Organization)

    def users(self) -> list[User]:
        """Every member of the organization, all pages."""
        return self._all_pages(self._org_path("/users"), User)

    def repositories(self) -> list[Repository]:
        """Every repository of the organization, all pages."""
        return self._all_pages(self._org_path("/repos"), Repository)

    def integrations(self) -> Integrations:
        """Which integrations (GitHub, Slack, Linear, ...) the organization has set up."""
        return self._request(
            "GET", self._org_path("/integrations"), self.limits.standard, parse=parser(Integrations)
        )
