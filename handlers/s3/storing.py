"""Writing object bytes to every storage sidecar in parallel, with a write quorum."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import structlog

from bus.errors import NotFoundInLog
from bus.log import Bus
from events.s3 import ObjectPut
from storage import DigestMismatch, DiskSidecar, StorageError

log = structlog.get_logger("handler.s3")


class QuorumNotMet(Exception):
    pass


class BlobWriter:
    def __init__(self, bus: Bus, sidecars: list[DiskSidecar], write_quorum: int) -> None:
        self.bus = bus
        self.sidecars = sidecars
        self.write_quorum = write_quorum

    def fully_replicated(self, replicas: list[str]) -> bool:
        return len(replicas) >= len(self.sidecars)

    async def release(self, blob_id: str) -> None:
        await self.bus.purge_blob(blob_id)

    async def store(
        self, blob_id: str, sha256: str, inline: bytes | None, chunks: list[int]
    ) -> list[str]:
        """Write the bytes (inline, or chunks from the log) to every sidecar; return the names of
        those that stored and verified them, once at least the quorum did."""

        async def one(sidecar: DiskSidecar) -> str:
            if inline is not None:
                await sidecar.put_bytes(blob_id, inline, sha256=sha256)
            else:
                await sidecar.put(blob_id, self._chunks(chunks), sha256=sha256)
            return sidecar.name

        return await self._quorum([one(s) for s in self.sidecars])

    async def copy(
        self, put: ObjectPut, blob_id: str, start: int, length: int
    ) -> tuple[int, str, str, list[str]]:
        """Copy a byte range of a stored object into a new blob (UploadPartCopy)."""
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha256()

        async def source() -> AsyncIterator[bytes]:
            async for chunk in self._read_range(put, start, length):
                md5.update(chunk)
                sha.update(chunk)
                yield chunk

        first = self.sidecars[0]
        await first.put(blob_id, source())
        stored = [first.name]
        digest = sha.hexdigest()
        if len(self.sidecars) > 1:

            async def one(sidecar: DiskSidecar) -> str:
                await sidecar.put(blob_id, first.get(blob_id), sha256=digest)
                return sidecar.name

            stored += await self._quorum(
                [one(s) for s in self.sidecars[1:]], need=self.write_quorum - 1
            )
        return length, md5.hexdigest(), digest, stored

    async def _read_range(self, put: ObjectPut, start: int, length: int) -> AsyncIterator[bytes]:
        pieces = [(p.blob_id, p.size) for p in put.parts] or [(put.blob_id, put.size)]
        offset = 0
        for blob_id, size in pieces:
            lo, hi = max(start - offset, 0), min(start + length - offset, size)
            if lo < hi:
                async for chunk in self._read_any(blob_id, lo, hi - lo):
                    yield chunk
            offset += size

    async def _read_any(self, blob_id: str, offset: int, length: int) -> AsyncIterator[bytes]:
        for sidecar in self.sidecars:
            if await sidecar.exists(blob_id):
                async for chunk in sidecar.get(blob_id, offset, length):
                    yield chunk
                return
        raise StorageError(f"no replica of blob {blob_id} is readable")

    async def _quorum(
        self, writes: list[Coroutine[Any, Any, str]], need: int | None = None
    ) -> list[str]:
        need = self.write_quorum if need is None else need
        results = await asyncio.gather(*writes, return_exceptions=True)
        stored = [r for r in results if isinstance(r, str)]
        errors = [r for r in results if isinstance(r, BaseException)]
        for err in errors:
            if isinstance(err, DigestMismatch | NotFoundInLog):
                raise err
        if len(stored) < need:
            detail = "; ".join(f"{type(e).__name__}: {e}" for e in errors)
            raise QuorumNotMet(
                f"only {len(stored)} of the {need} required replicas stored: {detail}"
            )
        for err in errors:
            if isinstance(err, StorageError | OSError):
                log.warning("handler.replica_failed", error=str(err))
            elif isinstance(err, Exception):
                raise err
        return stored

    async def _chunks(self, chunks: list[int]) -> AsyncIterator[bytes]:
        """Blob chunks from the log, one fetched ahead of the one being written."""
        if not chunks:
            return
        ahead = asyncio.ensure_future(self.bus.get_chunk(chunks[0]))
        try:
            for i in range(len(chunks)):
                chunk = await ahead
                if i + 1 < len(chunks):
                    ahead = asyncio.ensure_future(self.bus.get_chunk(chunks[i + 1]))
                yield chunk
        finally:
            if not ahead.done():
                ahead.cancel()
