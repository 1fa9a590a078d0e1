"""The agent type (Codegen's `agent_type`: `codegen` or `claude_code`) a channel or a person defaults to."""

from __future__ import annotations

from typing import Literal

from storage.database import StoreBase

Scope = Literal["channel", "user"]


class AgentTypeStore(StoreBase):
    """Default agent types, per channel and per person (none set: Codegen's organization default)."""

    def agent_type_default(self, scope: Scope, owner: str) -> str | None:
        """The agent type channel or user `owner` defaults to, or None."""
        rows = self._rows(
            "SELECT agent_type FROM agent_type_defaults WHERE scope = ? AND owner = ?", (scope, owner)
        )
        return rows[0]["agent_type"] if rows else None

    def set_agent_type_default(self, scope: Scope, owner: str, agent_type: str | None) -> None:
        """Make `agent_type` the default of channel or user `owner` (None clears it)."""
        with self._tx() as db:
            if agent_type is None:
                db.execute("DELETE FROM agent_type_defaults WHERE scope = ? AND owner = ?", (scope, owner))
                return
            db.execute(
                "INSERT INTO agent_type_defaults (scope, owner, agent_type) VALUES (?, ?, ?)"
                " ON CONFLICT (scope, owner) DO UPDATE SET agent_type = excluded.agent_type",
                (scope, owner, agent_type),
            )
