"""Writing object bytes to every storage sidecar in parallel, answering at the write quorum.

A write waits for the first W sidecars that stored and verified the bytes, not for all N: one
slow or failing sidecar must not make every PUT slow or fail. The event records those W (in
configuration order). The others go on in the background ("stragglers"), fed from the log for a
bounded time; what they achieve is no longer in the event, so the replicator
(handlers/s3/replicator.py) finds the blob under-replicated, sees the bytes there (or copies
them) and records the replica with ``s3.ReplicaAdded``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from bus.errors import NotFoundInLog
from bus.log import Bus
from events.s3 import ObjectPut
from storage import DigestMismatch, StorageError
from storage.base import Sidecar

log = structlog.get_logger("handler.s3")

STRAGGLER_BUDGET = 300.0
"""Seconds a write that missed the quorum may go on streaming from the log after the answer."""
LANDED_MEMORY = 10_000


MAX_CHUNK_FETCHES = 6  # x 4 MiB chunks: well under nats-server's 64 MiB pending limit


class QuorumNotMet(Exception):
    """Fewer sidecars than the write quorum stored the bytes: the command is refused (SlowDown)."""


class SourceUnavailable(StorageError):
    """No replica of the bytes to copy could be read."""


class StragglerStopped(StorageError):
    """A write that missed the quorum ran out of time (or its command failed) and was stopped."""


@dataclass
class _Cutoff:
    """When writes still streaming from the log stop being fed (set once the quorum decides)."""

    at: float = math.inf


class BlobWriter:
    def __init__(
        self,
        bus: Bus,
        sidecars: Sequence[Sidecar],
        write_quorum: int,
        *,
        straggler_budget: float = STRAGGLER_BUDGET,
    ) -> None:
        self._fetches: asyncio.Semaphore | None = None
        self.bus = bus
        self.sidecars = list(sidecars)
        self.write_quorum = write_quorum
        self.straggler_budget = straggler_budget
        self.in_flight: set[tuple[str, str]] = set()
        """(blob id, sidecar) writes still running after their command was answered."""
        self.landed: OrderedDict[tuple[str, str], None] = OrderedDict()
        """Recent such writes that stored and verified the bytes: no need to re-read them."""
        self._background: set[asyncio.Future[Any]] = set()

    def fully_replicated(self, replicas: list[str]) -> bool:
        return {s.name for s in self.sidecars} <= set(replicas)

    async def release(self, blob_id: str) -> None:
        await self.bus.purge_blob(blob_id)

    async def store(
        self, blob_id: str, sha256: str, inline: bytes | None, chunks: list[int]
    ) -> list[str]:
        """Write the bytes (inline, or chunks from the log) to every sidecar; return the names of
        those that stored and verified them as soon as the quorum did."""
        cutoff = _Cutoff()

        def write(sidecar: Sidecar) -> Awaitable[object]:
            if inline is not None:
                return sidecar.put_bytes(blob_id, inline, sha256=sha256)
            return sidecar.put(blob_id, self._chunks(blob_id, chunks, cutoff), sha256=sha256)

        writes = {s.name: write(s) for s in self.sidecars}
        return await self._quorum(blob_id, writes, self.write_quorum, cutoff)

    async def copy(
        self, put: ObjectPut, blob_id: str, start: int, length: int
    ) -> tuple[int, str, str, list[str]]:
        """Copy a byte range of a stored object into a new blob (UploadPartCopy): into the first
        sidecar that takes it (computing the digests), then from there to the others."""
        first: Sidecar | None = None
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha256()
        for sidecar in self.sidecars:
            md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
            try:
                await sidecar.put(blob_id, _hashing(self._read_range(put, start, length), md5, sha))
            except SourceUnavailable:
                raise
            except (StorageError, OSError) as exc:
                log.warning("handler.replica_failed", sidecar=sidecar.name, error=str(exc))
                continue
            first = sidecar
            break
        if first is None:
            raise QuorumNotMet(f"no sidecar could store the copy {blob_id}")
        digest = sha.hexdigest()
        source = first
        others = {
            s.name: s.put(blob_id, source.get(blob_id), sha256=digest)
            for s in self.sidecars
            if s is not first
        }
        stored = {first.name, *await self._quorum(blob_id, others, self.write_quorum - 1)}
        names = [s.name for s in self.sidecars if s.name in stored]
        return length, md5.hexdigest(), digest, names

    async def _read_range(self, put: ObjectPut, start: int, length: int) -> AsyncIterator[bytes]:
        pieces = [(p.blob_id, p.size, p.replicas) for p in put.parts] or [
            (put.blob_id, put.size, put.replicas)
        ]
        offset = 0
        for blob_id, size, replicas in pieces:
            lo, hi = max(start - offset, 0), min(start + length - offset, size)
            if lo < hi:
                async for chunk in self._read_any(blob_id, replicas, lo, hi - lo):
                    yield chunk
            offset += size

    async def _read_any(
        self, blob_id: str, replicas: list[str], offset: int, length: int
    ) -> AsyncIterator[bytes]:
        # Recorded replicas first: an unrecorded sidecar may hold an unfinished straggler's file.
        ordered = sorted(self.sidecars, key=lambda s: s.name not in replicas)
        for sidecar in ordered:
            try:
                present = await sidecar.exists(blob_id)
            except (StorageError, OSError):
                continue
            if present:
                async for chunk in sidecar.get(blob_id, offset, length):
                    yield chunk
                return
        raise SourceUnavailable(f"no replica of blob {blob_id} is readable")

    async def _quorum(
        self,
        blob_id: str,
        writes: Mapping[str, Awaitable[object]],
        need: int,
        cutoff: _Cutoff | None = None,
    ) -> list[str]:
        tasks = {asyncio.ensure_future(w): name for name, w in writes.items()}
        pending = set(tasks)
        stored: set[str] = set()
        errors: list[str] = []
        reached = False
        try:
            while pending and len(stored) < need <= len(stored) + len(pending):
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = task.exception()
                    if exc is None:
                        stored.add(tasks[task])
                    elif isinstance(exc, DigestMismatch | NotFoundInLog):
                        raise exc  # the upload itself is bad: no sidecar can store it
                    else:
                        log.warning(
                            "handler.replica_failed",
                            sidecar=tasks[task],
                            blob_id=blob_id,
                            error=f"{type(exc).__name__}: {exc}",
                        )
                        errors.append(f"{tasks[task]}: {type(exc).__name__}: {exc}")
            reached = len(stored) >= need
        finally:
            # Sidecar writes are never cancelled midway (a blocked system call cannot be
            # interrupted, and cleanup would race it): they stop being fed instead.
            if cutoff is not None:
                cutoff.at = time.monotonic() + (self.straggler_budget if reached else 0.0)
            for task in pending:
                self._follow(blob_id, tasks[task], task, reached)
        if not reached:
            detail = "; ".join(errors) or "no answer"
            raise QuorumNotMet(
                f"only {len(stored)} of the {need} required sidecars stored the bytes: {detail}"
            )
        return [s.name for s in self.sidecars if s.name in stored]

    def _follow(self, blob_id: str, name: str, task: asyncio.Future[Any], answered: bool) -> None:
        """Let a write that missed the quorum finish in the background."""
        key = (blob_id, name)
        if answered:
            self.in_flight.add(key)
        self._background.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._background.discard(t)
            self.in_flight.discard(key)
            exc = None if t.cancelled() else t.exception()
            if exc is None and answered and not t.cancelled():
                self.landed[key] = None
                while len(self.landed) > LANDED_MEMORY:
                    self.landed.popitem(last=False)
            elif exc is not None:
                log.info("handler.straggler_failed", sidecar=name, blob_id=blob_id, error=str(exc))

        task.add_done_callback(done)

    async def _fetch(self, seq: int) -> bytes:
        """One chunk from the log. Fetches in flight are capped across all uploads: many big
        uploads at once would otherwise pile more into the connection than nats-server lets a
        client have pending, and it cuts the handler off as a slow consumer."""
        if self._fetches is None:
            self._fetches = asyncio.Semaphore(MAX_CHUNK_FETCHES)
        async with self._fetches:
            return await self.bus.get_chunk(seq)

    async def _chunks(
        self, blob_id: str, chunks: list[int], cutoff: _Cutoff
    ) -> AsyncIterator[bytes]:
        """Blob chunks from the log, one fetched ahead of the one being written."""
        if not chunks:
            return
        ahead = asyncio.ensure_future(self._fetch(chunks[0]))
        try:
            for i in range(len(chunks)):
                if time.monotonic() > cutoff.at:
                    raise StragglerStopped(f"stopped writing blob {blob_id} after the answer")
                chunk = await ahead
                if i + 1 < len(chunks):
                    ahead = asyncio.ensure_future(self._fetch(chunks[i + 1]))
                yield chunk
        finally:
            if not ahead.done():
                ahead.cancel()


async def _hashing(source: AsyncIterator[bytes], md5: Any, sha: Any) -> AsyncIterator[bytes]:
    async for chunk in source:
        md5.update(chunk)
        sha.update(chunk)
        yield chunk
