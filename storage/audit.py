"""The audit trail: who asked the bot to do what, and whether it did (table `audit`).

One entry per decision: a run started, a follow-up sent, a run retried or stopped, a channel setting
changed, a watch rule or schedule added, paused, resumed or removed, a pull request acted on, and every
refusal with its reason. Entries never hold a prompt (its
length stands in for it), a token or a secret. `codegen-slack audit` exports them; the housekeeping
job forgets those older than CODEGEN_SLACK_AUDIT_RETENTION_DAYS.

To record a decision, inside the transaction of the action where there is one:

    add_audit(db, at=now, actor=user, team=team, action=START, channel=channel,
              run_id=run_id, outcome=ALLOWED, detail="prompt of 120 characters")

or, outside one, `store.record_audit(...)` with the same keywords (Store below).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from storage.database import StoreBase
from storage.tx import Tx

# Actions (`action`); a refusal records what the person tried, with outcome REFUSED.
START, FOLLOW_UP, RETRY, STOP = "start", "follow_up", "retry", "stop"
CONFIG, PR_ACTION = "config", "pr_action"
WATCH, SCHEDULE = "watch", "schedule"  # a channel's watch rules and schedules: added, paused, removed, …
# Outcomes (`outcome`).
ALLOWED, REFUSED = "allowed", "refused"


@dataclass(frozen=True)
class AuditEntry:
    """One decision. `at`: Unix seconds; `actor`: Slack user id; `team`: their Slack team (T…/E…) when
    known; `action`: START, FOLLOW_UP, RETRY, STOP, CONFIG, PR_ACTION, WATCH, SCHEDULE, or for a refusal
    what was tried (also e.g. "command", "mention", "button:retry_run"); `channel`: where (C…/D…/G…);
    `run_id`: the Codegen run concerned; `request_id`: the recorded request; `outcome`: ALLOWED or
    REFUSED; `detail`: why, or what changed (never a prompt's text)."""

    at: float
    actor: str
    action: str
    team: str | None = None
    channel: str | None = None
    run_id: int | None = None
    request_id: int | None = None
    outcome: str = ALLOWED
    detail: str = ""


COLUMNS = tuple(AuditEntry.__dataclass_fields__)


def add_audit(
    db: Tx,
    *,
    at: float,
    actor: str,
    action: str,
    team: str | None = None,
    channel: str | None = None,
    run_id: int | None = None,
    request_id: int | None = None,
    outcome: str = ALLOWED,
    detail: str = "",
) -> None:
    """Write one entry with `db` (a connection inside the caller's transaction); see AuditEntry."""
    db.execute(
        f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
        (at, actor, action, team, channel, run_id, request_id, outcome, detail),
    )


def add_audit_entry(db: Tx, entry: AuditEntry | None, *, prefix: str = "") -> None:
    """`add_audit` for an entry built beforehand (e.g. handed to a store method with its action), its
    detail after `prefix` (what only the transaction knows, like a new rule's id); None writes nothing."""
    if entry is not None:
        add_audit(db, **{**asdict(entry), "detail": prefix + entry.detail})


class AuditStore(StoreBase):
    """The audit trail's own operations."""

    def record_audit(self, **entry: Any) -> None:
        """Record one decision in a transaction of its own (keywords as `add_audit`)."""
        with self._tx() as db:
            add_audit(db, **entry)

    def audit_entries(self, since: float = 0.0) -> list[AuditEntry]:
        """Every entry at or after `since` (Unix seconds), oldest first."""
        rows = self._rows(f"SELECT {', '.join(COLUMNS)} FROM audit WHERE at >= ? ORDER BY at, id", (since,))
        return [AuditEntry(**row) for row in rows]

    def forget_audit(self, before: float) -> None:
        """Delete the entries older than `before` (Unix seconds): the retention has passed."""
        with self._tx() as db:
            db.execute("DELETE FROM audit WHERE at < ?", (before,))
