"""Rate-limit slots counted in the database, for a limit that every replica's calls count against
together (see bot/shared_limit.py). Times are epoch seconds: replicas share no monotonic clock."""

from __future__ import annotations

from storage.database import SLOTS_LOCK, StoreBase


class SlotStore(StoreBase):
    """Taking and stamping slots of named sliding windows (table `rate_slots`)."""

    def take_slot(self, name: str, *, limit: int, window: float, now: float) -> tuple[int | None, float]:
        """Take a slot of window `name` (at most `limit` slots in any `window` seconds): (its id, 0.0),
        or (None, seconds until one frees) when the window is full. Slots older than the window are
        dropped on the way."""
        with self._tx(SLOTS_LOCK) as db:
            db.execute("DELETE FROM rate_slots WHERE name = ? AND at <= ?", (name, now - window))
            stamps = [
                r["at"] for r in db.query("SELECT at FROM rate_slots WHERE name = ? ORDER BY at", (name,))
            ]
            if len(stamps) >= limit:
                return None, max(0.0, stamps[len(stamps) - limit] + window - now)
            row = db.query("INSERT INTO rate_slots (name, at) VALUES (?, ?) RETURNING id", (name, now))
            return int(row[0]["id"]), 0.0

    def slot_wait(self, name: str, *, limit: int, window: float, now: float) -> float:
        """Seconds until window `name` has a free slot (0.0: it has one now); changes nothing."""
        rows = self._rows(
            "SELECT at FROM rate_slots WHERE name = ? AND at > ? ORDER BY at", (name, now - window)
        )
        if len(rows) < limit:
            return 0.0
        return max(0.0, rows[len(rows) - limit]["at"] + window - now)

    def stamp_slot(self, slot_id: int, at: float) -> None:
        """Count slot `slot_id` from `at` (when its call ended), so a slow call never lets a slot
        free up before the far side has counted it."""
        with self._tx(SLOTS_LOCK) as db:
            db.execute("UPDATE rate_slots SET at = ? WHERE id = ?", (at, slot_id))
