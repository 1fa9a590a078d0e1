"""The one storage interface that handlers and workers use: small named operations, no SQL outside."""

from __future__ import annotations

from storage.agent_controls import AgentControlStore
from storage.agent_types import AgentTypeStore
from storage.audit import AuditStore
from storage.database import RESUMED_STEP, StorageError
from storage.display import DisplayStore
from storage.job_admin import JobAdminStore
from storage.jobs import JobStore
from storage.leases import LeaseStore
from storage.members import MemberStore
from storage.prompt_groups import PromptGroupStore
from storage.pull_requests import PullRequestStore
from storage.requests import CapReached, RequestStore
from storage.runs import RunStore
from storage.schedules import ScheduleStore
from storage.settings import SettingsStore
from storage.slots import SlotStore
from storage.watches import WatchStore

__all__ = ["RESUMED_STEP", "CapReached", "StorageError", "Store"]


class Store(
    RequestStore,
    RunStore,
    DisplayStore,
    SettingsStore,
    JobStore,
    JobAdminStore,
    LeaseStore,
    AuditStore,
    MemberStore,
    AgentControlStore,
    WatchStore,
    ScheduleStore,
    PullRequestStore,
    AgentTypeStore,
    PromptGroupStore,
    SlotStore,
):
    """Threads ↔ runs, run state, requests and their jobs, settings, leases, the audit trail,
    follow-up controls, watch rules, schedules, pull-request actions, prompt groups, agent types
    and shared rate-limit slots, in one SQLite file or PostgreSQL database."""
