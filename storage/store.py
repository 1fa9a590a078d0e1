"""The one storage interface that handlers and workers use: small named operations, no SQL outside."""

from __future__ import annotations

from storage.database import RESUMED_STEP, StorageError
from storage.display import DisplayStore
from storage.requests import EVENT_MEMORY_SECONDS, RequestStore
from storage.runs import RunStore
from storage.settings import SettingsStore

__all__ = ["EVENT_MEMORY_SECONDS", "RESUMED_STEP", "StorageError", "Store"]


class Store(RequestStore, RunStore, DisplayStore, SettingsStore):
    """Threads ↔ runs, run state, pending requests and processed event ids, in one SQLite file."""
