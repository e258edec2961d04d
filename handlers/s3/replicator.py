"""Catching sidecars up with the blobs their writes' quorum went without.

A write answers once W of N sidecars hold the bytes, so a sidecar that was slow, down or failing
misses blobs. The replicator, a task of the s3 handler process, looks for live blobs whose
recorded replicas leave out a configured sidecar, gives that sidecar a verified copy — the
straggling write may have landed meanwhile; otherwise from a healthy replica, or from the blob's
chunks while the log still has them — and records it: ``s3.ReplicaAdded`` on the subject of an
object referencing the blob, appended without an expected sequence (it decides nothing about the
object and must not make writes to it conflict). Once every sidecar holds a blob, its chunks
leave the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog

from bus import subjects
from bus.errors import BusError
from bus.log import Bus
from events.envelope import Envelope
from events.s3 import ReplicaAdded
from handlers.s3.storing import BlobWriter
from projections import queries
from projections.db import Reader
from storage import integrity
from storage.base import Sidecar, StorageError
from storage.integrity import Source, Verdict
from storage.replicas import read_order

log = structlog.get_logger("replicator")

ACTOR = "mycloud:replicator"
RECORDED_TTL = 120.0
"""Seconds a replica this process recorded counts as present while the read model catches up."""


class Replicator:
    def __init__(
        self,
        bus: Bus,
        db: Reader,
        sidecars: Sequence[Sidecar],
        *,
        writer: BlobWriter | None = None,
        batch: int = 200,
    ) -> None:
        self.bus = bus
        self.db = db
        self.sidecars = {s.name: s for s in sidecars}
        self.names = [s.name for s in sidecars]
        self.writer = writer
        self.batch = batch
        self._after = ""  # pages through the under-replicated blobs, so none is starved
        self._recorded: dict[tuple[str, str], float] = {}

    async def run(self, stop: asyncio.Event, every: float = 2.0) -> None:
        while not stop.is_set():
            try:
                while await self.run_once() and not stop.is_set():
                    pass
            except Exception:
                log.exception("replicator.failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def run_once(self) -> int:
        """One batch of under-replicated blobs; returns how many replicas were added."""
        rows = await queries.under_replicated(
            self.db, self.names, after=self._after, limit=self.batch
        )
        self._after = rows[-1]["blob_id"] if len(rows) == self.batch else ""
        if not rows:
            return 0
        healthy = await self._healthy()
        now = time.monotonic()
        self._recorded = {k: t for k, t in self._recorded.items() if t > now - RECORDED_TTL}
        added = 0
        for row in rows:
            added += await self.catch_up(row, healthy)
        return added

    async def catch_up(self, row: dict[str, Any], healthy: set[str]) -> int:
        blob_id = row["blob_id"]
        held = list(row["replicas"])
        added = 0
        for name in row["missing"]:
            key = (blob_id, name)
            if key in self._recorded:
                held.append(name)  # recorded already; the read model has not caught up yet
                continue
            if name not in healthy or (self.writer and key in self.writer.in_flight):
                continue
            if not await self._ensure(self.sidecars[name], row):
                continue
            if await record_replica(self.bus, self.db, blob_id, name, actor=ACTOR):
                log.info("replicator.replica_added", blob_id=blob_id, sidecar=name)
                self._recorded[key] = time.monotonic()
                held.append(name)
                added += 1
        if set(self.names) <= set(held):
            await self.bus.purge_blob(blob_id)  # the log's copy is no longer needed
        return added

    async def _ensure(self, target: Sidecar, row: dict[str, Any]) -> bool:
        """Make sure ``target`` holds a verified copy of the blob."""
        blob_id, sha256 = row["blob_id"], row["sha256"]
        if self.writer and (blob_id, target.name) in self.writer.landed:
            with contextlib.suppress(StorageError, OSError):
                if await target.exists(blob_id):  # verified by the write itself
                    return True
        verdict = await integrity.check(target, blob_id, sha256)
        if verdict is Verdict.OK:
            return True
        if verdict is Verdict.UNREACHABLE:
            return False
        if verdict is Verdict.CORRUPT:
            await integrity.set_aside(target, blob_id)
        sources = [
            integrity.replica_source(self.sidecars[n], blob_id)
            for n in read_order(row["replicas"], self.sidecars)
            if n != target.name
        ]
        restored = await integrity.restore(
            target, blob_id, sha256, [*sources, log_source(self.bus, blob_id)]
        )
        if restored and verdict is Verdict.CORRUPT:
            await integrity.discard_aside(target, blob_id)
        return restored

    async def _healthy(self) -> set[str]:
        checks = await asyncio.gather(*(s.health() for s in self.sidecars.values()))
        return {name for name, h in zip(self.sidecars, checks, strict=True) if h.ok}


async def record_replica(bus: Bus, db: Reader, blob_id: str, sidecar: str, *, actor: str) -> bool:
    """Append ``s3.ReplicaAdded`` for a verified copy; False when nothing references the blob any
    more (then nobody reads its replica set). Idempotent within the log's duplicate window."""
    referrer = await queries.blob_referrer(db, blob_id)
    if referrer is None:
        return False
    event = ReplicaAdded(
        bucket=referrer["bucket"],
        key=referrer["key"],
        version_id=referrer["version_id"] or "",
        upload_id=referrer["upload_id"],
        blob_id=blob_id,
        sidecar=sidecar,
    )
    await bus.append(
        Envelope.wrap(event, actor=actor),
        subjects.object_(referrer["bucket"], referrer["key"]),
        msg_id=f"replica-{blob_id}-{sidecar}",
    )
    return True


def log_source(bus: Bus, blob_id: str) -> Source:
    """The blob's chunks in the log, as a copy source (translating the bus's failures)."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in bus.blob_chunks(blob_id):
                yield chunk
        except BusError as exc:
            raise StorageError(f"blob {blob_id} from the log: {exc}") from exc

    return chunks
