"""Named leases shared by every process on the database: at most one holder at a time, until the
lease's time runs out unless the holder renews it. The leader's lease (see bot/leader.py) carries the
state it hands to the next leader (its rate-limit windows) in `state`."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import StoreBase
from storage.records import JobStatus

# Markers `codegen-slack migrate-db` leaves (rows of `leases` that nobody holds): on the PostgreSQL
# database, which SQLite file it was filled from; on the SQLite file, where its data went.
MIGRATED_FROM, MIGRATED_TO = "migrated_from", "migrated_to"


@dataclass(frozen=True)
class Lease:
    """A lease just taken: the state its last holder left (None: none) and when that was written
    (`until` of the last holder, epoch seconds)."""

    state: str | None
    previous_owner: str | None
    previous_until: float


class LeaseStore(StoreBase):
    """Taking, renewing and handing back leases; times are epoch seconds."""

    def take_lease(
        self, name: str, owner: str, *, now: float, seconds: float, force: bool = False
    ) -> Lease | None:
        """Take lease `name` for `seconds` when nobody holds it (or it ran out, or `owner` holds it, or
        `force`: the caller knows its holder is gone); None when someone else still holds it."""
        with self._tx() as db:
            rows = db.query("SELECT owner, until, state FROM leases WHERE name = ?", (name,))
            row = rows[0] if rows else None
            if row and row["owner"] != owner and row["until"] > now and not force:
                return None
            db.upsert("leases", {"name": name, "owner": owner, "until": now + seconds}, ["name"])
        if row is None:
            return Lease(None, None, 0.0)
        return Lease(row["state"], row["owner"], row["until"])

    def renew_lease(self, name: str, owner: str, *, now: float, seconds: float, state: str | None) -> bool:
        """Extend `owner`'s lease to `now + seconds` and keep `state` with it; False when `owner` no
        longer holds it (it ran out and someone else took it)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE leases SET until = ?, state = ? WHERE name = ? AND owner = ?",
                (now + seconds, state, name, owner),
            )
            return cur.rowcount == 1

    def release_lease(self, name: str, owner: str, *, state: str | None) -> None:
        """Hand lease `name` back at once (a clean stop), leaving `state` for the next holder."""
        with self._tx() as db:
            db.execute(
                "UPDATE leases SET until = 0, state = ? WHERE name = ? AND owner = ?", (state, name, owner)
            )

    def release_jobs_of_others(self, owner: str, now: float) -> int:
        """Put back in line every running job that `owner` did not claim (their processes are gone, or
        no longer lead); returns how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET status = ?, lease_until = NULL, lease_owner = NULL, updated_at = ?"
                " WHERE status = ? AND (lease_owner IS NULL OR lease_owner != ?)",
                (JobStatus.RETRYING.value, now, JobStatus.RUNNING.value, owner),
            )
            return cur.rowcount

    # --- markers ---------------------------------------------------------------------------------

    def marker(self, name: str) -> str | None:
        """The value of marker `name` (MIGRATED_FROM, MIGRATED_TO), or None."""
        rows = self._rows("SELECT state FROM leases WHERE name = ? AND owner = ''", (name,))
        return rows[0]["state"] if rows else None

    def set_marker(self, name: str, value: str | None) -> None:
        """Set marker `name` to `value`, or remove it (None)."""
        with self._tx() as db:
            db.execute("DELETE FROM leases WHERE name = ?", (name,))
            if value is not None:
                db.execute(
                    "INSERT INTO leases (name, owner, until, state) VALUES (?, '', 0, ?)", (name, value)
                )

    def holds_data(self) -> bool:
        """Whether any request or run is stored (a bot has used this database)."""
        return bool(self._rows("SELECT 1 FROM requests LIMIT 1") or self._rows("SELECT 1 FROM runs LIMIT 1"))
