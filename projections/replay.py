"""Replay: rebuild projections from the log, build a fresh copy beside the live one, compare them.

The design's promise (section 5) is that a rebuild equals the live read model row for row;
``compare`` is how tests and ``mycloud`` operators check it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from bus.log import Bus
from projections.base import Projection
from projections.catalog import all_projections, select
from projections.db import Database, open_database
from projections.runner import _SET_CHECKPOINT, CHECKPOINTS_DDL, Projector

log = structlog.get_logger()

MAX_DIFFERENCES = 100


async def rebuild(bus: Bus, db: Database, names: list[str] | None = None) -> int:
    """Drop and recreate the named projections (all when None) at checkpoint 0, then apply the log
    up to its current end. Returns the lowest checkpoint reached."""
    projections = sorted(select(names), key=lambda p: p.name)
    async with db.transaction() as tx:
        await tx.execute(CHECKPOINTS_DDL)
        # Checkpoint rows first, in name order, as every runner locks them: a live runner is
        # either done with its batch or waits for us, and never holds a table we want to drop.
        marks = ", ".join(f"${i + 1}" for i in range(len(projections)))
        await tx.fetch(
            f"""SELECT name FROM projection_checkpoints WHERE name IN ({marks})
            ORDER BY name FOR UPDATE""",
            *[p.name for p in projections],
        )
        for projection in projections:
            # Dropping (not emptying) lets a rebuild pick up a changed table definition.
            for table in projection.tables:
                await tx.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in projection.ddl:
                await tx.execute(statement)
        await tx.executemany(_SET_CHECKPOINT, [(p.name, 0) for p in projections])
    target = await bus.last_sequence()
    log.info("replay.rebuild", projections=[p.name for p in projections], until_seq=target)
    return await Projector(bus, db, projections).catch_up(target)


async def build_fresh(bus: Bus, url: str, *, schema: str | None = None) -> Database:
    """Every projection built from sequence 1 into a new database: a SQLite file that must not
    exist yet, or on PostgreSQL a new schema (``schema`` or a generated ``replay_<hex>``) of the
    database ``url`` names. The caller closes the returned database."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite://"))
        if path.exists():
            raise FileExistsError(f"{path} exists; build_fresh never writes into a used database")
        db = await open_database(url)
    else:
        schema = schema or f"replay_{os.urandom(6).hex()}"
        db = await open_database(url, schema=schema)
        if await db.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema
        ):
            await db.close()
            raise FileExistsError(f"schema {schema} is not empty")
    try:
        target = await bus.last_sequence()
        log.info("replay.build_fresh", url=url, schema=schema, until_seq=target)
        await Projector(bus, db, all_projections()).catch_up(target)
    except BaseException:
        await db.close()
        raise
    return db


async def compare(db_a: Database, db_b: Database, names: list[str] | None = None) -> list[str]:
    """Row-for-row differences between the projections' tables in two databases ([] if equal)."""
    differences: list[str] = []
    for projection in select(names):
        for table, key in projection.tables.items():
            differences += await _compare_table(db_a, db_b, projection, table, key)
            if len(differences) >= MAX_DIFFERENCES:
                return [*differences[:MAX_DIFFERENCES], "... (more differences not shown)"]
    return differences


async def _compare_table(
    db_a: Database, db_b: Database, projection: Projection, table: str, key: Sequence[str]
) -> list[str]:
    # Sorted in Python by primary key, so two different backends compare in the same order.
    a = _by_key(await db_a.fetch(f"SELECT * FROM {table}"), key)
    b = _by_key(await db_b.fetch(f"SELECT * FROM {table}"), key)
    out: list[str] = []
    where = f"{projection.name}.{table}"
    for pk in sorted(a.keys() | b.keys()):
        row_a, row_b = a.get(pk), b.get(pk)
        if row_a is None:
            out.append(f"{where} {pk!r}: only in B: {row_b}")
        elif row_b is None:
            out.append(f"{where} {pk!r}: only in A: {row_a}")
        elif row_a != row_b:
            cols = sorted(row_a.keys() | row_b.keys())
            changed = [
                f"{c}: {row_a.get(c)!r} != {row_b.get(c)!r}"
                for c in cols
                if row_a.get(c) != row_b.get(c)
            ]
            out.append(f"{where} {pk!r}: " + "; ".join(changed))
        if len(out) >= MAX_DIFFERENCES:
            break
    return out


Row = dict[str, Any]


def _by_key(rows: list[Row], key: Sequence[str]) -> dict[tuple[Any, ...], Row]:
    return {tuple(row[k] for k in key): row for row in rows}
