"""The one storage interface that handlers and workers use: small named operations, no SQL outside."""

from __future__ import annotations

from storage.agent_types import AgentTypeStore
from storage.database import RESUMED_STEP, StorageError
from storage.display import DisplayStore
from storage.jobs import JobStore
from storage.prompt_groups import PromptGroupStore
from storage.pull_requests import PullRequestStore
from storage.requests import CapReached, RequestStore
from storage.runs import RunStore
from storage.settings import SettingsStore

__all__ = ["RESUMED_STEP", "CapReached", "StorageError", "Store"]


class Store(
    RequestStore,
    RunStore,
    DisplayStore,
    SettingsStore,
    JobStore,
    PullRequestStore,
    AgentTypeStore,
    PromptGroupStore,
):
    """Threads ↔ runs, run state, requests and their jobs, settings, in one SQLite file."""
