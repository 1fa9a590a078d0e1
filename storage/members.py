"""The Codegen organization's members as the leader last fetched them (bot/codegen_members.py), so
every replica answers "is this person a member, an admin?" from the same list."""

from __future__ import annotations

import json
from typing import Any

from storage.database import StoreBase


class MemberStore(StoreBase):
    """The shared member list: `save_codegen_members` replaces it, `codegen_members_since` reads it."""

    def save_codegen_members(self, members: list[dict[str, Any]], now: float) -> None:
        """Replace the list with `members` (each a Codegen user's fields, with `email`), fetched at
        `now` (epoch seconds)."""
        with self._tx() as db:
            db.execute("DELETE FROM codegen_members")
            db.executemany(
                "INSERT INTO codegen_members (email, fields, fetched_at) VALUES (?, ?, ?)",
                [(m["email"], json.dumps(m), now) for m in members],
            )

    def codegen_members_since(self, fetched_after: float) -> tuple[float, list[dict[str, Any]]] | None:
        """(when it was fetched, the members' fields) if the list was fetched after `fetched_after`,
        else None (the caller's copy is as new, or no list was saved)."""
        fetched_at = self._rows("SELECT MAX(fetched_at) AS t FROM codegen_members")[0]["t"]
        if fetched_at is None or fetched_at <= fetched_after:
            return None  # one small query; the list itself only when it changed
        rows = self._rows("SELECT fields FROM codegen_members")
        return fetched_at, [json.loads(r["fields"]) for r in rows]
