"""Every projection this build maintains."""

from __future__ import annotations

from projections.base import Projection
from projections.iam import IamProjection
from projections.s3 import BucketsProjection, CommandsProjection, ObjectsProjection


def all_projections() -> list[Projection]:
    """Fresh instances: projections may keep per-run state, so runners never share them."""
    return [BucketsProjection(), ObjectsProjection(), CommandsProjection(), IamProjection()]


def select(names: list[str] | None) -> list[Projection]:
    projections = all_projections()
    if names is None:
        return projections
    known = {p.name: p for p in projections}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown projections {unknown}; known: {sorted(known)}")
    return [known[n] for n in dict.fromkeys(names)]
