"""The record of one thing that went wrong while indexing, with its file and line."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from mailhops.index.schema import PROBLEMS


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: ``line`` is the 1-based physical line, 0 for the whole file."""

    path: str
    line: int
    severity: str  # schema.ERROR | schema.WARNING | schema.INFO
    reason: str


def problems_frame(problems: list[Problem]) -> pl.DataFrame:
    """Return ``problems`` as a frame with the PROBLEMS schema."""
    return pl.DataFrame(
        {
            "path": [p.path for p in problems],
            "line": [p.line for p in problems],
            "severity": [p.severity for p in problems],
            "reason": [p.reason for p in problems],
        },
        schema=PROBLEMS,
    )
