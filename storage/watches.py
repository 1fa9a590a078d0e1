"""Watch rules: a channel's patterns that start a run when a message (an alert, a CI post) matches, and
the messages they matched, each recorded once with what was done about it.

A match is decided and recorded in one transaction with the `watch` job that carries it out, so a
redelivered message, or the same message seen by two replicas, is acted on once:

| outcome | when                                                          | its job                        |
|---------|---------------------------------------------------------------|--------------------------------|
| repeat  | a message of the channel with the same fingerprint started a  | links to that run, in this     |
|         | run within the last hour                                      | message's thread               |
| capped  | the rule started its cap of runs in the last hour             | says so, once an hour per rule |
| run     | otherwise                                                     | starts a run                   |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from storage.audit import AuditEntry, add_audit_entry
from storage.database import StoreBase
from storage.job_kinds import PRIORITY, WATCH
from storage.jobs import arm

HOUR = 3600.0
WatchOutcome = Literal["run", "repeat", "capped"]


@dataclass(frozen=True)
class WatchRule:
    """One rule of a channel: `pattern` (an RE2 expression), only messages from `source` (a bot or
    app id or name; None: anyone), runs on `repo` (None: the channel's default) with the prompt
    `template` (None: the default one)."""

    id: int
    channel: str
    pattern: str
    source: str | None
    repo: str | None
    template: str | None
    created_by: str
    created_at: float


@dataclass(frozen=True)
class WatchMatch:
    """A message a rule matched, and what was done: `first_ts` is the message whose run a repeat links to."""

    rule_id: int
    channel: str
    message_ts: str
    outcome: WatchOutcome
    first_ts: str | None


def _rule(row: dict[str, Any]) -> WatchRule:
    return WatchRule(
        id=row["id"], channel=row["channel"], pattern=row["pattern"], source=row["source"] or None,
        repo=row["repo"] or None, template=row["template"] or None, created_by=row["created_by"],
        created_at=row["created_at"] or 0.0,
    )  # fmt: skip


class WatchStore(StoreBase):
    """A channel's watch rules and the messages they matched."""

    def add_watch_rule(
        self,
        channel: str,
        *,
        pattern: str,
        source: str | None,
        repo: str | None,
        template: str | None,
        user: str,
        now: float,
        audit: AuditEntry | None = None,
    ) -> WatchRule:
        """Record a rule for `channel`, and `audit` (its detail after "rule <id> added: "); returns the
        rule with its id."""
        with self._tx() as db:
            row = db.query(
                "INSERT INTO watch_rules (channel, pattern, source, repo, template, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (channel, pattern, source, repo, template, user, now),
            )[0]
            add_audit_entry(db, audit, prefix=f"rule {row['id']} added: ")
        rule = self.watch_rule(int(row["id"]))
        assert rule is not None
        return rule

    def watch_rule(self, rule_id: int) -> WatchRule | None:
        """One rule by id."""
        rows = self._rows("SELECT * FROM watch_rules WHERE id = ?", (rule_id,))
        return _rule(rows[0]) if rows else None

    def watch_rules(self, channel: str) -> list[WatchRule]:
        """The channel's rules, oldest first (the first that matches a message acts on it)."""
        rows = self._rows("SELECT * FROM watch_rules WHERE channel = ? ORDER BY id", (channel,))
        return [_rule(r) for r in rows]

    def remove_watch_rule(self, channel: str, rule_id: int, *, audit: AuditEntry | None = None) -> bool:
        """Delete rule `rule_id` of `channel`, recording `audit` with it; False (nothing recorded) when
        the channel has no such rule."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM watch_rules WHERE id = ? AND channel = ?", (rule_id, channel))
            if cur.rowcount == 1:
                add_audit_entry(db, audit)
            return cur.rowcount == 1

    def forget_watch_matches(self, before: float) -> None:
        """Drop the record of messages matched before `before` (a repeat is recognised within the hour,
        a redelivery within minutes)."""
        with self._tx() as db:
            db.execute("DELETE FROM watch_matches WHERE created_at < ?", (before,))

    def record_watch_match(
        self,
        rule: WatchRule,
        message_ts: str,
        *,
        fingerprint: str,
        now: float,
        runs_per_hour: int,
        payload: dict[str, Any],
    ) -> WatchMatch | None:
        """Decide what a message that `rule` matched gets (see the module docstring) and record it with
        its `watch` job (`payload` plus the outcome), in one transaction; None when this message was
        recorded before (a redelivery)."""
        channel, since = rule.channel, now - HOUR
        with self._tx() as db:
            seen = db.query(
                "SELECT 1 FROM watch_matches WHERE channel = ? AND message_ts = ?", (channel, message_ts)
            )
            if seen:
                return None
            first = db.query(
                "SELECT message_ts FROM watch_matches WHERE channel = ? AND fingerprint = ?"
                " AND outcome = 'run' AND created_at >= ? ORDER BY id LIMIT 1",
                (channel, fingerprint, since),
            )
            outcome: WatchOutcome = "repeat" if first else "run"
            told_capped = False
            if outcome == "run":
                counts = db.query(
                    "SELECT SUM(CASE WHEN outcome = 'run' THEN 1 ELSE 0 END) AS runs,"
                    " SUM(CASE WHEN outcome = 'capped' THEN 1 ELSE 0 END) AS capped"
                    " FROM watch_matches WHERE rule_id = ? AND created_at >= ?",
                    (rule.id, since),
                )[0]
                runs, capped = counts["runs"], counts["capped"]
                if (runs or 0) >= runs_per_hour:
                    outcome, told_capped = "capped", bool(capped)
            first_ts = first[0]["message_ts"] if first else None
            db.execute(
                "INSERT INTO watch_matches (rule_id, channel, message_ts, fingerprint, outcome, first_ts,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rule.id, channel, message_ts, fingerprint, outcome, first_ts, now),
            )
            if not told_capped:  # an alert storm past the cap is said once an hour, not once a message
                job = {
                    **payload, "outcome": outcome, "first_ts": first_ts, "rule_id": rule.id,
                    "channel": channel, "message_ts": message_ts, "runs_per_hour": runs_per_hour,
                }  # fmt: skip
                key = f"{WATCH}:{channel}:{message_ts}"
                arm(db, WATCH, key, now=now, priority=PRIORITY[WATCH], payload=job)
        return WatchMatch(rule.id, channel, message_ts, outcome, first_ts)
