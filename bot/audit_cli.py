"""`codegen-slack audit [--since 2026-11-01|7d] [--format csv|json]`: the audit trail on stdout."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime

from bot.jobs_cli import open_store
from storage.audit import COLUMNS, AuditEntry

AGO = re.compile(r"(\d+)([dh])")
UNIT_SECONDS = {"d": 86_400, "h": 3_600}


def since(text: str, now: float | None = None) -> float:
    """`--since`'s value as Unix seconds: a date or time in ISO 8601 (UTC unless it names a zone), or
    an age like `7d` or `12h`. Raises argparse.ArgumentTypeError for anything else."""
    ago = AGO.fullmatch(text.strip())
    if ago:
        return (time.time() if now is None else now) - int(ago[1]) * UNIT_SECONDS[ago[2]]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a date (2026-11-01), a time (2026-11-01T09:30) nor an age (7d, 12h)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `audit` to the command line."""
    audit = sub.add_parser("audit", help="export the audit trail: who asked the bot what, and the answer")
    audit.add_argument("--since", type=since, default=0.0, help="from this date or age on (2026-11-01, 7d)")
    audit.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")


def run(args: argparse.Namespace, db_path: str) -> int:
    """Print the entries since `args.since`, oldest first; 0, or 2 when the database cannot be read."""
    store = open_store(db_path)
    if store is None:
        return 2
    try:
        entries = store.audit_entries(args.since)
    finally:
        store.close()
    print(export(entries, args.format), end="")
    return 0


def export(entries: list[AuditEntry], form: str) -> str:
    """The entries as CSV (a header line, then one line each) or a JSON array of objects; `at` in
    ISO 8601, UTC."""
    rows = [{**asdict(entry), "at": _iso(entry.at)} for entry in entries]
    if form == "json":
        return json.dumps(rows, indent=1) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
