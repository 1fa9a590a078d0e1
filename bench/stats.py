"""Small helpers for benchmark figures: percentiles and a plain-text table."""

from __future__ import annotations

import math


def percentile(values: list[float], pct: float) -> float:
    """The `pct`-th percentile (nearest rank) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """ "p50 / p95 / max" of `values` times `scale`, or "-" when there are none."""
    if not values:
        return "-"
    figures = (percentile(values, 50), percentile(values, 95), max(values))
    return " / ".join(f"{v * scale:.{digits}f}" for v in figures)


def table(rows: list[list[str]]) -> str:
    """Left-aligned columns, the first row a header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
