"""The one storage interface that handlers and workers use: small named operations, no SQL outside."""

from __future__ import annotations

from storage.database import RESUMED_STEP, StorageError
from storage.display import DisplayStore
from storage.jobs import JobStore
from storage.leases import LeaseStore
from storage.requests import CapReached, RequestStore
from storage.runs import RunStore
from storage.settings import SettingsStore
from storage.slots import SlotStore

__all__ = ["RESUMED_STEP", "CapReached", "StorageError", "Store"]


class Store(RequestStore, RunStore, DisplayStore, SettingsStore, JobStore, LeaseStore, SlotStore):
    """Threads ↔ runs, run state, requests and their jobs, settings, leases and shared rate-limit
    slots, in one SQLite file or PostgreSQL database."""
