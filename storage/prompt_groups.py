"""Prompts sent to several repositories: the group, its parent message, and one create request per
repository (each an ordinary create, in the create queue's order)."""

from __future__ import annotations

import json
from typing import Any

from storage.database import StoreBase
from storage.job_kinds import GROUP, PRIORITY
from storage.jobs import arm
from storage.records import GroupRow, PromptGroup
from storage.rows import run_from_row


class PromptGroupStore(StoreBase):
    """Prompt groups and their members."""

    def add_prompt_group(
        self,
        *,
        key: str,
        channel: str,
        requester: str,
        prompt: str,
        patterns: list[str],
        options: dict[str, Any],
        now: float,
    ) -> int | None:
        """Record a group and the job that expands and follows it, in one transaction; its id, or None
        when one with this key exists (a redelivery)."""
        with self._tx() as db:
            if list(db.query("SELECT 1 FROM prompt_groups WHERE key = ?", (key,))):
                return None
            row = db.query(
                "INSERT INTO prompt_groups (key, channel, requester, prompt, patterns, options, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (key, channel, requester, prompt, json.dumps(patterns), json.dumps(options), now),
            )[0]
            group_id = int(row["id"])
            arm(
                db,
                GROUP,
                f"{GROUP}:{group_id}",
                now=now,
                priority=PRIORITY[GROUP],
                payload={"group": group_id},
            )
            return group_id

    def prompt_group(self, group_id: int) -> PromptGroup | None:
        """The group, or None."""
        rows = self._rows("SELECT * FROM prompt_groups WHERE id = ?", (group_id,))
        if not rows:
            return None
        row = rows[0]
        return PromptGroup(
            id=row["id"], key=row["key"], channel=row["channel"], requester=row["requester"],
            prompt=row["prompt"], patterns=tuple(json.loads(row["patterns"])),
            options=json.loads(row["options"]), created_at=row["created_at"], status_ts=row["status_ts"],
            shown=row["shown"], summary_ts=row["summary_ts"], closed=bool(row["closed"]),
        )  # fmt: skip

    def update_prompt_group(self, group_id: int, **changes: Any) -> None:
        """Set `status_ts`, `shown`, `summary_ts` and/or `closed` of a group."""
        allowed = {"status_ts", "shown", "summary_ts", "closed"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"a prompt group's {sorted(set(changes) - allowed)} cannot be changed")
        columns = ", ".join(f"{name} = ?" for name in changes)
        with self._tx() as db:
            db.execute(f"UPDATE prompt_groups SET {columns} WHERE id = ?", (*changes.values(), group_id))

    def add_group_member(self, group_id: int, request_key: str, repo: str, position: int) -> None:
        """Make the create request with `request_key` the group's run for `repo` (once)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO prompt_group_members (group_id, request_id, repo, position)"
                " SELECT ?, id, ?, ? FROM requests WHERE key = ?"
                " ON CONFLICT (group_id, request_id) DO NOTHING",
                (group_id, repo, position, request_key),
            )

    def count_creates_since(self, user: str, since: float, *, besides_group: int) -> int:
        """How many runs `user` asked for since `since` (epoch seconds), but for group `besides_group`'s
        own (made by an earlier attempt): the hourly cap's count."""
        rows = self._rows(
            "SELECT COUNT(*) AS n FROM requests WHERE kind = 'create' AND user = ? AND created_at >= ?"
            " AND key NOT LIKE ?",
            (user, since, f"{GROUP}:{besides_group}:%"),
        )
        return int(rows[0]["n"])

    def group_rows(self, group_id: int) -> list[GroupRow]:
        """Each repository of the group, in the order asked, with its request's state and its run."""
        rows = self._rows(
            "SELECT m.repo, m.request_id, r.state, r.error, r.run_id FROM prompt_group_members m"
            " JOIN requests r ON r.id = m.request_id WHERE m.group_id = ? ORDER BY m.position",
            (group_id,),
        )
        run_ids = [row["run_id"] for row in rows if row["run_id"] is not None]
        runs = {}
        if run_ids:
            marks = ",".join("?" * len(run_ids))
            runs = {
                r["run_id"]: run_from_row(r)
                for r in self._rows(f"SELECT * FROM runs WHERE run_id IN ({marks})", tuple(run_ids))
            }
        return [
            GroupRow(row["repo"], row["request_id"], row["state"], row["error"], runs.get(row["run_id"]))
            for row in rows
        ]
