"""Read models built from the EVENTS log (design.md section 5) and the queries the API runs."""

from projections.base import Projection
from projections.catalog import all_projections
from projections.db import Database, DatabaseError, IntegrityError, OperationalError, open_database
from projections.replay import build_fresh, compare, rebuild
from projections.runner import Projector, ProjectorStopped
from projections.s3 import BucketsProjection, CommandsProjection, ObjectsProjection

ALL_PROJECTIONS = all_projections
"""Factory of fresh instances of every projection this build maintains."""

__all__ = [
    "ALL_PROJECTIONS",
    "BucketsProjection",
    "CommandsProjection",
    "Database",
    "DatabaseError",
    "IntegrityError",
    "ObjectsProjection",
    "OperationalError",
    "Projection",
    "Projector",
    "ProjectorStopped",
    "all_projections",
    "build_fresh",
    "compare",
    "open_database",
    "rebuild",
]
