"""Reclaims the bytes of overwritten and deleted objects.

The objects read model records each orphaned blob in ``blob_garbage`` when it applies the event
that orphaned it, so a blob is reclaimed only after that event is durable in the log and projected.
The collector keeps its own cursor (not part of any read model, so replays stay comparable); a
deletion that is repeated after a crash is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog

from projections import queries
from projections.db import Database
from storage.base import Sidecar

log = structlog.get_logger("collector")
CURSOR_DDL = "CREATE TABLE IF NOT EXISTS collector_cursor (name TEXT PRIMARY KEY, last_seq BIGINT)"


class Collector:
    def __init__(self, db: Database, sidecars: Sequence[Sidecar], *, batch: int = 500) -> None:
        self.db = db
        self.sidecars = {s.name: s for s in sidecars}
        self.batch = batch

    async def cursor(self) -> int:
        value = await self.db.fetchval("SELECT last_seq FROM collector_cursor WHERE name = 'blobs'")
        return int(value or 0)

    async def collect_once(self) -> int:
        """Reclaim one batch; returns how many blobs were reclaimed."""
        async with self.db.transaction() as tx:
            await tx.execute(CURSOR_DDL)
        cursor = await self.cursor()
        rows = await queries.garbage_after(self.db, cursor, self.batch)
        for row in rows:
            # Every sidecar, not only the recorded replicas: a write that missed its quorum may
            # have landed after the blob was orphaned, and then nothing ever recorded it.
            for sidecar in self.sidecars.values():
                await sidecar.delete(row["blob_id"])
        if rows:
            async with self.db.transaction() as tx:
                await tx.execute(
                    """INSERT INTO collector_cursor (name, last_seq) VALUES ('blobs', $1)
                    ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq""",
                    int(rows[-1]["seq"]),
                )
        return len(rows)

    async def run(self, stop: asyncio.Event, every: float = 2.0) -> None:
        while not stop.is_set():
            try:
                while await self.collect_once() == self.batch:
                    pass
            except Exception:
                log.exception("collector.failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
