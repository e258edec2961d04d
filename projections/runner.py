"""The projector: reads EVENTS in batches and applies each batch in one transaction together with
every projection's checkpoint, so each event takes effect exactly once however often it arrives.

Several runners (or a live runner and a replay) may work on one database: inside the
transaction the checkpoints are locked and re-read, events at or below a projection's checkpoint
are skipped, and a checkpoint found below where this runner has read (someone reset it for replay)
sends the runner back to re-read from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import suppress
from typing import Any, cast

import orjson
import structlog

from bus import subjects
from bus.errors import NotFoundInLog
from bus.log import Bus, Stored
from projections.base import Projection, outcome
from projections.db import Database, DatabaseError

log = structlog.get_logger()

CHECKPOINTS_DDL = """CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name TEXT COLLATE BINARY PRIMARY KEY,
    last_seq BIGINT NOT NULL
)"""
SCHEMAS_DDL = """CREATE TABLE IF NOT EXISTS projection_schemas (
    name TEXT COLLATE BINARY PRIMARY KEY,
    version INTEGER NOT NULL
)"""
_SET_SCHEMA = """INSERT INTO projection_schemas (name, version) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET version = excluded.version"""
_SET_CHECKPOINT = """INSERT INTO projection_checkpoints (name, last_seq) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq"""


class ProjectorStopped(RuntimeError):
    """The log holds an event this build cannot read; skipping it would corrupt the read models."""


class Projector:
    def __init__(
        self,
        bus: Bus,
        db: Database,
        projections: Sequence[Projection],
        *,
        batch_size: int = 500,
        idle_check: float = 2.0,
    ) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"projection names must be unique and non-empty: {names}")
        self.bus = bus
        self.db = db
        self.projections = sorted(projections, key=lambda p: p.name)
        self.batch_size = batch_size
        self.idle_check = idle_check
        self.checkpoint = 0
        """The lowest checkpoint of this runner's projections after its last commit."""
        self._names = [p.name for p in self.projections]
        marks = ", ".join(f"${i + 1}" for i in range(len(names)))
        self._select_sql = (
            f"SELECT name, last_seq FROM projection_checkpoints WHERE name IN ({marks})"
        )
        # Sorted names lock rows in one order in every runner: no deadlock between runners.
        self._lock_sql = f"{self._select_sql} ORDER BY name FOR UPDATE"
        self._started = False

    async def start(self) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(CHECKPOINTS_DDL)
            await tx.execute(SCHEMAS_DDL)
            # This runner's checkpoint rows first, in name order, as every batch and a rebuild
            # lock them: on PostgreSQL even CREATE INDEX IF NOT EXISTS takes a SHARE lock on its
            # table, and taking those while another runner's batch writes the tables deadlocks.
            await tx.fetch(self._lock_sql, *self._names)
            known = {
                r["name"]: int(r["version"])
                for r in await tx.fetch("SELECT name, version FROM projection_schemas")
            }
            for projection in self.projections:
                if known.get(projection.name) != projection.schema_version:
                    # A read model built by another version of its code: rebuild it from the log.
                    for table in projection.tables:
                        await tx.execute(f"DROP TABLE IF EXISTS {table}")
                    await tx.execute(_SET_CHECKPOINT, projection.name, 0)
                    await tx.execute(_SET_SCHEMA, projection.name, projection.schema_version)
                for statement in projection.ddl:
                    await tx.execute(statement)
            await tx.executemany(
                """INSERT INTO projection_checkpoints (name, last_seq) VALUES ($1, 0)
                ON CONFLICT (name) DO NOTHING""",
                [(name,) for name in self._names],
            )
        self._started = True

    async def run(self) -> None:
        """Follow the log for ever (until cancelled or stopped by an unreadable event)."""
        await self._follow(None)

    async def catch_up(self, until_seq: int) -> int:
        """Apply the log until every checkpoint reaches ``until_seq``; returns the lowest one."""
        return await self._follow(until_seq)

    async def checkpoints(self) -> dict[str, int]:
        rows = await self.db.fetch(self._select_sql, *self._names)
        found = {r["name"]: int(r["last_seq"]) for r in rows}
        return {name: found.get(name, 0) for name in self._names}

    async def _follow(self, until: int | None) -> int:
        if not self._started:
            await self.start()
        while True:
            low = min((await self.checkpoints()).values())
            self.checkpoint = low
            if until is not None and low >= until:
                return low
            log.info("projector.reading", from_seq=low + 1, until_seq=until, names=self._names)
            try:
                await self._read(low, until)
            except DatabaseError:
                log.exception("projector.database_error", checkpoint=self.checkpoint)
                raise

    async def _read(self, low: int, until: int | None) -> None:
        """Apply batches from ``low + 1``; return to be restarted from the checkpoints when the
        read ends, a checkpoint went back, or the reader lost or withheld events."""
        read_to = low
        reader = cast(
            AsyncGenerator[list[Stored], None],
            self.bus.read(low + 1, until_seq=until, max_batch=self.batch_size),
        )
        pending: asyncio.Task[list[Stored]] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.create_task(_next(reader))
                done, _ = await asyncio.wait({pending}, timeout=self.idle_check)
                if not done:
                    if await self._stuck(read_to):
                        return
                    continue
                task, pending = pending, None
                try:
                    batch = task.result()
                except StopAsyncIteration:
                    return
                except (LookupError, ValueError) as exc:
                    # UnknownMessageType, a failed upcast or validation: a newer writer's event
                    log.error("projector.unreadable_event", after_seq=read_to, error=str(exc))
                    raise ProjectorStopped(
                        f"cannot read the event after sequence {read_to}: {exc}; "
                        "upgrade this projector before restarting it"
                    ) from exc
                whole = await self._usable(batch, read_to)
                if whole < len(batch):
                    log.warning(
                        "projector.gap_in_read",
                        after_seq=batch[whole - 1].seq if whole else read_to,
                        next_seq=batch[whole].seq,
                    )
                if whole:
                    went_back = await self.commit_batch(batch[:whole], read_to)
                    read_to = batch[whole - 1].seq
                    if went_back:
                        log.info("projector.checkpoint_went_back", read_to=read_to)
                        return
                if whole < len(batch):
                    return
        finally:
            if pending is not None:
                pending.cancel()
                with suppress(BaseException):
                    await pending
            await reader.aclose()

    async def _usable(self, batch: list[Stored], read_to: int) -> int:
        """How many leading events of ``batch`` may be applied: up to the first hole after
        ``read_to`` that the log can fill (the reader lost it); holes the log has too pass."""
        expected = read_to + 1
        for i, stored in enumerate(batch):
            if stored.seq != expected and await self._in_log(expected):
                return i
            expected = stored.seq + 1
        return len(batch)

    async def _in_log(self, seq: int) -> bool:
        try:
            await self.bus.get(seq)
        except NotFoundInLog:
            return False
        except (LookupError, ValueError):
            return True  # there, though unreadable: the read will stop on it
        return True

    async def _stuck(self, read_to: int) -> bool:
        # Idle: either nothing new (fine), or the log moved on without us (the reader dropped
        # events), or someone reset a checkpoint for replay: the latter two need a fresh read.
        if min((await self.checkpoints()).values()) < read_to:
            log.info("projector.checkpoint_went_back", read_to=read_to)
            return True
        if await self.bus.last_sequence() > read_to:
            log.warning("projector.read_stalled", read_to=read_to)
            return True
        return False

    async def commit_batch(self, batch: list[Stored], read_to: int) -> bool:
        """Apply one batch read right after ``read_to`` and publish what it decided; True when a
        checkpoint was found below ``read_to``, so the log must be re-read from there."""
        if not batch:
            return False
        last = batch[-1].seq
        went_back = False
        async with self.db.transaction() as tx:
            rows = await tx.fetch(self._lock_sql, *self._names)
            found = {r["name"]: int(r["last_seq"]) for r in rows}
            marks = {name: found.get(name, 0) for name in self._names}
            updates: list[tuple[str, int]] = []
            for projection in self.projections:
                mark = marks[projection.name]
                if mark < read_to:
                    went_back = True  # events between mark and this batch are not in hand
                    continue
                if mark >= last:
                    continue
                types = projection.event_types
                events = [s for s in batch if s.seq > mark and s.envelope.type in types]
                if events:
                    await projection.apply_batch(events, tx)
                marks[projection.name] = last
                updates.append((projection.name, last))
            if updates:
                await tx.executemany(_SET_CHECKPOINT, updates)
        self.checkpoint = min(marks.values())
        outcomes: list[dict[str, Any]] = []
        for stored in batch:
            o = outcome(stored)
            if o is not None:
                outcomes.append(o)
        payload = orjson.dumps({"checkpoint": self.checkpoint, "outcomes": outcomes})
        await self.bus.notify(subjects.PROJECTED, payload)
        return went_back


async def _next(reader: AsyncGenerator[list[Stored], None]) -> list[Stored]:
    return await anext(reader)
