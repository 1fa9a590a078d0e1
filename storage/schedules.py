"""Schedules: recurring runs of a channel, each with the time it fires next.

A firing is a `schedule` job keyed `schedule:<id>:<fire time>`, recorded in the transaction that moves
the schedule's next fire time on, and only by the one process whose update still found the old time:
so it happens once, across restarts and replicas. The `schedules` job looks for due schedules; it is
armed for the earliest next fire time whenever one is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.audit import AuditEntry, add_audit_entry
from storage.database import StoreBase
from storage.job_kinds import PRIORITY, SCHEDULE, SCHEDULES
from storage.jobs import arm
from storage.tx import Tx


@dataclass(frozen=True)
class Schedule:
    """A recurring run: `cron` (five fields) read in the time zone `tz` (an IANA name) of whoever made
    it, the `prompt` (on `repo` with `model`, None: the defaults) posted in `channel` as `created_by`'s
    run, next at `next_fire_at` (epoch seconds)."""

    id: int
    channel: str
    cron: str
    tz: str
    prompt: str
    repo: str | None
    model: str | None
    created_by: str
    next_fire_at: float
    paused: bool


def _schedule(row: dict[str, Any]) -> Schedule:
    return Schedule(
        id=row["id"], channel=row["channel"], cron=row["cron"], tz=row["tz"], prompt=row["prompt"],
        repo=row["repo"] or None, model=row["model"] or None, created_by=row["created_by"],
        next_fire_at=row["next_fire_at"], paused=bool(row["paused"]),
    )  # fmt: skip


def firing_key(schedule_id: int, fire_at: float) -> str:
    """The key of a schedule's firing at `fire_at`: its job's and its run request's."""
    return f"{SCHEDULE}:{schedule_id}:{int(fire_at)}"


class ScheduleStore(StoreBase):
    """Schedules, and firing each due one exactly once."""

    def add_schedule(
        self, channel: str, *, cron: str, tz: str, prompt: str, repo: str | None, model: str | None,
        user: str, now: float, next_fire_at: float, audit: AuditEntry | None = None,
    ) -> Schedule:  # fmt: skip
        """Record a schedule that fires first at `next_fire_at`, and `audit` (its detail after
        "schedule <id> added: "); returns the schedule with its id."""
        with self._tx() as db:
            row = db.query(
                "INSERT INTO schedules (channel, cron, tz, prompt, repo, model, created_by, created_at,"
                " next_fire_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (channel, cron, tz, prompt, repo, model, user, now, next_fire_at),
            )[0]
            add_audit_entry(db, audit, prefix=f"schedule {row['id']} added: ")
            _arm_check(db, now, next_fire_at)
        schedule = self.schedule(int(row["id"]))
        assert schedule is not None
        return schedule

    def schedule(self, schedule_id: int) -> Schedule | None:
        """One schedule by id."""
        rows = self._rows("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        return _schedule(rows[0]) if rows else None

    def schedules(self, channel: str) -> list[Schedule]:
        """The channel's schedules, oldest first."""
        rows = self._rows("SELECT * FROM schedules WHERE channel = ? ORDER BY id", (channel,))
        return [_schedule(r) for r in rows]

    def pause_schedule(
        self, channel: str, schedule_id: int, *, audit: AuditEntry | None = None
    ) -> Schedule | None:
        """Stop firing schedule `schedule_id` of `channel`, recording `audit` with it; None (nothing
        recorded) when the channel has no such schedule."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE schedules SET paused = 1 WHERE id = ? AND channel = ?", (schedule_id, channel)
            )
            if cur.rowcount == 1:
                add_audit_entry(db, audit)
        return self._in_channel(channel, schedule_id)

    def resume_schedule(
        self, channel: str, schedule_id: int, *, now: float, next_fire_at: float,
        audit: AuditEntry | None = None,
    ) -> Schedule | None:  # fmt: skip
        """Fire schedule `schedule_id` of `channel` again, next at `next_fire_at` (the firings missed
        while paused are skipped), recording `audit` with it; None when the channel has no such
        schedule."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE schedules SET paused = 0, next_fire_at = ? WHERE id = ? AND channel = ?",
                (next_fire_at, schedule_id, channel),
            )
            if cur.rowcount == 1:
                _arm_check(db, now, next_fire_at)
                add_audit_entry(db, audit)
        return self._in_channel(channel, schedule_id)

    def remove_schedule(self, channel: str, schedule_id: int, *, audit: AuditEntry | None = None) -> bool:
        """Delete schedule `schedule_id` of `channel`, recording `audit` with it; False (nothing
        recorded) when the channel has no such schedule."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM schedules WHERE id = ? AND channel = ?", (schedule_id, channel))
            if cur.rowcount == 1:
                add_audit_entry(db, audit)
            return cur.rowcount == 1

    def due_schedules(self, now: float, limit: int = 100) -> list[Schedule]:
        """Schedules not paused whose next fire time is `now` or earlier, earliest first."""
        rows = self._rows(
            "SELECT * FROM schedules WHERE paused = 0 AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?",
            (now, limit),
        )
        return [_schedule(r) for r in rows]

    def next_schedule_due(self) -> float | None:
        """The earliest next fire time of a schedule not paused (None: there is none)."""
        return self._rows("SELECT MIN(next_fire_at) AS t FROM schedules WHERE paused = 0")[0]["t"]

    def fire_schedule(self, schedule: Schedule, *, now: float, next_fire_at: float) -> bool:
        """Record the firing of `schedule` at its `next_fire_at` as a `schedule` job and move its next
        fire time to `next_fire_at`, in one transaction; False when another process (or an earlier
        turn) fired it first."""
        key = firing_key(schedule.id, schedule.next_fire_at)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE schedules SET next_fire_at = ? WHERE id = ? AND next_fire_at = ? AND paused = 0",
                (next_fire_at, schedule.id, schedule.next_fire_at),
            )
            if cur.rowcount != 1 or db.query("SELECT 1 FROM jobs WHERE key = ?", (key,)):
                return False
            payload = {"schedule_id": schedule.id, "fire_at": schedule.next_fire_at}
            arm(db, SCHEDULE, key, now=now, priority=PRIORITY[SCHEDULE], payload=payload)
            return True

    def _in_channel(self, channel: str, schedule_id: int) -> Schedule | None:
        found = self.schedule(schedule_id)
        return found if found is not None and found.channel == channel else None


def _arm_check(db: Tx, now: float, when: float) -> None:
    """Have the `schedules` job look for due schedules at `when` (or earlier, if it is due earlier)."""
    arm(db, SCHEDULES, SCHEDULES, now=now, run_after=max(now, when), priority=PRIORITY[SCHEDULES])
