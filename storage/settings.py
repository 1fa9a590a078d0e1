"""Channel settings, personal preferences and the runs on a user's App Home."""

from __future__ import annotations

from typing import Any

from storage.audit import AuditEntry, add_audit_entry
from storage.database import StoreBase
from storage.job_kinds import HOME, PRIORITY
from storage.jobs import arm
from storage.records import ChannelSettings, RunRecord, UserPrefs
from storage.rows import run_from_row


class SettingsStore(StoreBase):
    """Channel settings and personal preferences, and a user's App Home runs."""

    # --- channel settings and personal preferences ------------------------------------------------

    def channel_settings(self, channel: str) -> ChannelSettings:
        """The channel's settings (the defaults when none were set)."""
        rows = self._rows("SELECT * FROM channel_settings WHERE channel = ?", (channel,))
        if not rows:
            return ChannelSettings(channel=channel)
        repo, notify = rows[0]["default_repo"], rows[0]["notify"]
        return ChannelSettings(channel, default_repo=repo or None, notify=notify or "thread")

    def set_channel_settings(
        self, channel: str, *, user: str, now: float, audit: AuditEntry | None = None, **changes: Any
    ) -> ChannelSettings:
        """Change a channel's `default_repo` (None clears it) and/or `notify`, recording `audit` with the
        change; returns the new settings."""
        with self._tx() as db:
            if audit is not None:
                add_audit_entry(db, audit)
            db.upsert(
                "channel_settings",
                {"channel": channel, **changes, "changed_by": user, "changed_at": now},
                ["channel"],
            )
        return self.channel_settings(channel)

    def user_prefs(self, user: str) -> UserPrefs:
        """A person's preferences (the defaults when none were set)."""
        rows = self._rows('SELECT * FROM user_prefs WHERE "user" = ?', (user,))
        if not rows:
            return UserPrefs(user=user)
        row = rows[0]
        return UserPrefs(
            user=user,
            dm_on_finish=bool(row["dm_on_finish"]),
            default_repo=row["default_repo"] or None,
            default_model=row["default_model"] or None,
        )

    def set_user_prefs(self, user: str, **changes: Any) -> UserPrefs:
        """Change `dm_on_finish`, `default_repo` or `default_model` (None clears); returns the result."""
        if "dm_on_finish" in changes:
            changes["dm_on_finish"] = int(bool(changes["dm_on_finish"]))
        with self._tx() as db:
            db.upsert("user_prefs", {"user": user, **changes}, ["user"])
        return self.user_prefs(user)

    # --- App Home tabs kept current -----------------------------------------------------------------

    def home_published(self, user: str, now: float) -> None:
        """`user`'s Home tab was just published."""
        with self._tx() as db:
            db.upsert("homes", {"user": user, "published_at": now, "due": 0}, ["user"])

    def home_opened(self, user: str, now: float, *, opened: bool = True) -> None:
        """`user` opened their Home tab (or changed a default there): publish it now; from the first
        opening on it is kept current as their runs change."""
        with self._tx() as db:
            row: dict[str, Any] = {"user": user}
            if opened:
                row["opened_at"] = now
            db.upsert("homes", row, ["user"])
            arm(
                db,
                HOME,
                f"{HOME}:{user}",
                now=now,
                priority=PRIORITY[HOME],
                payload={"user": user, "opened": True},
            )

    def runs_for_home(self, user: str, limit: int = 20) -> list[RunRecord]:
        """A user's runs for their App Home: working ones first, then the newest."""
        rows = self._rows(
            "SELECT * FROM runs WHERE requester = ? ORDER BY finished, created_at DESC, run_id DESC LIMIT ?",
            (user, limit),
        )
        return [run_from_row(r) for r in rows]
