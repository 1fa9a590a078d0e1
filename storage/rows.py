"""Turning database rows back into records."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from storage.records import PullRequest, Request, RunRecord


def run_from_row(row: dict[str, Any]) -> RunRecord:
    """A `runs` row as a RunRecord (NULL columns take the record's defaults)."""
    prs = tuple(PullRequest(**p) for p in json.loads(row.get("pull_requests") or "[]"))
    names = {f.name for f in fields(RunRecord)}
    values = {k: v for k, v in row.items() if k in names and v is not None}
    values["pull_requests"] = prs
    return RunRecord(**values)


def request_from_row(row: dict[str, Any]) -> Request:
    """A `requests` row as a Request, its JSON columns decoded."""
    names = {f.name for f in fields(Request)}
    values = {k: v for k, v in row.items() if k in names and v is not None}
    values["options"] = json.loads(row.get("options") or "{}")
    values["images"] = tuple(json.loads(row.get("images") or "[]"))
    return Request(**values)
