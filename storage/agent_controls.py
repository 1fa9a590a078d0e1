"""What people control about a run from Slack: muted threads, a channel's follow-up mode, the Stop
request, and the run's agent session as Slack last showed it. Plain SQL, `?` placeholders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from storage.audit import AuditEntry, add_audit_entry
from storage.database import RESUMED_STEP, StoreBase
from storage.job_kinds import arm_card, arm_session
from storage.jobs import add_step
from storage.records import Request
from storage.rows import request_from_row
from storage.tx import Tx

FollowUpMode = Literal["all", "mention"]
FOLLOW_UP_MODES: tuple[FollowUpMode, ...] = ("all", "mention")
StopState = Literal["waiting", "sent", "failed", "dropped"]


def stop_key(run_id: int, earlier: int = 0) -> str:
    """The key of a Stop request of run `run_id` that has `earlier` Stops before it (each ended, and a
    follow-up set the run working again since). A second press while a Stop stands finds it instead of
    sending another."""
    return f"stop:{run_id}" if earlier == 0 else f"stop:{run_id}:{earlier}"


# Noted on a Stop that had ended (sent or dropped) when a follow-up was delivered to its run: the run
# works again, so it may be stopped anew.
SUPERSEDED_STEP = "superseded"
# A follow-up (not a Stop) of the run recorded after request id ? and delivered: by the steps key,
# from that id on. It covers a Stop dropped only after such a follow-up was delivered.
_RESUMED_SINCE = (
    "SELECT 1 FROM steps s JOIN requests r ON r.id = s.request_id WHERE s.request_id > ? AND s.step = ?"
    " AND r.run_id = ? AND r.kind = 'resume' AND r.key NOT LIKE 'stop:%' LIMIT 1"
)


def supersede_stops(db: Tx, run_id: int, request_id: int) -> None:
    """Resume request `request_id` was just delivered to run `run_id`: unless it is a Stop itself, the
    run's Stops that have ended are superseded (inside the caller's transaction)."""
    if list(db.query("SELECT 1 FROM requests WHERE id = ? AND key LIKE 'stop:%'", (request_id,))):
        return
    for row in _stop_rows(db.query, run_id):
        if row["state"] != "pending":
            add_step(db, row["id"], SUPERSEDED_STEP)


Rows = list[dict[str, Any]]


def _stop_rows(query: Callable[[str, tuple[Any, ...]], Rows], run_id: int) -> Rows:
    """The `requests` rows of the run's Stops, oldest first: keyed stop_key(run_id, n) for n = 0, 1, …
    (one lookup by the unique key each; a run has few). `query` runs SQL in or out of a transaction."""
    found: Rows = []
    while rows := query("SELECT * FROM requests WHERE key = ?", (stop_key(run_id, len(found)),)):
        found.append(rows[0])
    return found


@dataclass(frozen=True)
class StopRecord:
    """Who asked a run to stop, from where (`button`, `command`, `slack`), and how far it got:
    `waiting` for Codegen to take the follow-up, `sent`, `failed` (with `error`), or `dropped`: the run
    finished before the follow-up could be sent, so nothing was sent."""

    user: str
    source: str
    requested_at: float
    state: StopState
    error: str | None = None


@dataclass(frozen=True)
class RunControls:
    """What a run's card shows besides the run itself: who muted its thread, and its Stop."""

    muted_by: str | None = None
    stop: StopRecord | None = None


@dataclass(frozen=True)
class SessionShown:
    """The agent session status and loading text Slack last accepted for a run (None: never set)."""

    status: str | None = None
    loading: str | None = None
    at: float = 0.0  # when Slack accepted them (epoch seconds)


class AgentControlStore(StoreBase):
    """Muting, follow-up modes, Stop requests and agent sessions."""

    # --- follow-ups -----------------------------------------------------------------------------------

    def follow_up_mode(self, channel: str) -> FollowUpMode:
        """`all` (every reply in a run's thread goes to the agent) or `mention` (only replies that
        mention the bot); `all` unless an admin chose otherwise."""
        rows = self._rows("SELECT mode FROM channel_follow_ups WHERE channel = ?", (channel,))
        return "mention" if rows and rows[0]["mode"] == "mention" else "all"

    def set_follow_up_mode(
        self, channel: str, mode: FollowUpMode, *, user: str, now: float, audit: AuditEntry | None = None
    ) -> None:
        """Choose how a channel's run threads take plain replies, recording `audit` with the change."""
        with self._tx() as db:
            if audit is not None:
                add_audit_entry(db, audit)
            db.execute(
                "INSERT INTO channel_follow_ups (channel, mode, changed_by, changed_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel) DO UPDATE SET mode = excluded.mode,"
                " changed_by = excluded.changed_by, changed_at = excluded.changed_at",
                (channel, mode, user, now),
            )

    def muted_by(self, channel: str, thread_ts: str) -> str | None:
        """Who muted follow-ups in this thread (None: not muted)."""
        rows = self._rows(
            "SELECT muted_by FROM thread_mutes WHERE channel = ? AND thread_ts = ?", (channel, thread_ts)
        )
        return str(rows[0]["muted_by"]) if rows else None

    def set_muted(
        self, run_id: int | None, channel: str, thread_ts: str, *, user: str | None, now: float
    ) -> bool:
        """Mute a run's thread for `user`, or unmute it (`user` None), and show it on the run's card (a
        run still being made has none yet) in the same transaction; False when it already was so."""
        with self._tx() as db:
            if user is None:
                changed = db.execute(
                    "DELETE FROM thread_mutes WHERE channel = ? AND thread_ts = ?", (channel, thread_ts)
                ).rowcount
            else:
                changed = len(
                    db.query(
                        "INSERT INTO thread_mutes (channel, thread_ts, muted_by, muted_at)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT (channel, thread_ts) DO NOTHING RETURNING channel",
                        (channel, thread_ts, user, now),
                    )
                )
            if changed and run_id is not None:
                _show_on_card(db, run_id, now)
        return bool(changed)

    # --- Stop -------------------------------------------------------------------------------------------

    def stop_request(self, run_id: int) -> Request | None:
        """The run's standing Stop request (a resume with the stop prompt): its latest, unless that one
        ended and a follow-up was delivered since, setting the run working again (it may then be stopped
        anew; see `_standing`). None when nobody asked."""
        return self._standing(run_id, self._stops(run_id))

    def next_stop_key(self, run_id: int) -> str:
        """The key a Stop pressed now records under: the standing Stop's, so the press finds it, else a
        new one (two presses at once get the same, and the second finds the first)."""
        stops = self._stops(run_id)
        standing = self._standing(run_id, stops)
        return standing.key if standing is not None else stop_key(run_id, len(stops))

    def _standing(self, run_id: int, stops: list[Request]) -> Request | None:
        """The last of `stops` unless it ended and a follow-up was delivered after it ended, or was
        recorded after it and delivered."""
        if not stops or stops[-1].state == "pending":
            return stops[-1] if stops else None
        latest = stops[-1]
        if self._has_step(latest.id, SUPERSEDED_STEP):
            return None
        return None if self._rows(_RESUMED_SINCE, (latest.id, RESUMED_STEP, run_id)) else latest

    def _has_step(self, request_id: int, step: str) -> bool:
        return bool(self._rows("SELECT 1 FROM steps WHERE request_id = ? AND step = ?", (request_id, step)))

    def _stops(self, run_id: int) -> list[Request]:
        """The run's Stop requests, oldest first."""
        return [request_from_row(row) for row in _stop_rows(self._rows, run_id)]

    def show_stop(self, run_id: int, now: float) -> None:
        """A Stop was just recorded: the card and the agent session say so now, whatever the status."""
        with self._tx() as db:
            _show_on_card(db, run_id, now)
            arm_session(db, run_id, now=now)

    def drop_stop(self, request_id: int, run_id: int, now: float) -> None:
        """The run finished before its Stop could be sent: the Stop request ends done, unsent, the card
        and agent session say so, and the watcher checks the run now (Codegen may have said it finished
        before the watcher saw it), in one transaction."""
        with self._tx() as db:
            db.execute("UPDATE requests SET state = 'done' WHERE id = ?", (request_id,))
            db.execute("UPDATE runs SET next_check_at = ? WHERE run_id = ?", (now, run_id))
            _show_on_card(db, run_id, now)
            arm_session(db, run_id, now=now)

    def show_session(self, run_id: int, now: float) -> None:
        """Show the run's agent session as the run is now (after Slack's stop button, say)."""
        with self._tx() as db:
            arm_session(db, run_id, now=now)

    def run_controls(self, run_id: int, channel: str, thread_ts: str) -> RunControls:
        """What the run's card shows about muting and Stop."""
        request = self.stop_request(run_id)
        stop = None
        if request is not None:
            delivered = self._has_step(request.id, RESUMED_STEP)
            state: StopState = (
                "sent" if delivered
                else "failed" if request.state == "failed"
                else "dropped" if request.state == "done"
                else "waiting"
            )  # fmt: skip
            source = str(request.options.get("stop") or "button")
            stop = StopRecord(request.user, source, request.created_at, state, request.error)
        return RunControls(muted_by=self.muted_by(channel, thread_ts), stop=stop)

    # --- agent sessions ---------------------------------------------------------------------------------

    def session_shown(self, run_id: int) -> SessionShown:
        """The session status and loading text Slack last accepted for the run."""
        rows = self._rows(
            "SELECT status, loading, changed_at FROM agent_sessions WHERE run_id = ?", (run_id,)
        )
        return (
            SessionShown(rows[0]["status"], rows[0]["loading"], rows[0]["changed_at"] or 0.0)
            if rows
            else SessionShown()
        )

    def mark_session_shown(self, run_id: int, shown: SessionShown, now: float) -> None:
        """Slack accepted this session status and loading text for the run."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO agent_sessions (run_id, status, loading, changed_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id) DO UPDATE SET status = excluded.status,"
                " loading = excluded.loading, changed_at = excluded.changed_at",
                (run_id, shown.status, shown.loading, now),
            )


def _show_on_card(db: Tx, run_id: int, now: float) -> None:
    """Make the run's card due for an edit now (it shows muting and Stop, which are not its status)."""
    db.execute("UPDATE runs SET shown_at = NULL WHERE run_id = ?", (run_id,))
    arm_card(db, run_id, now=now)
