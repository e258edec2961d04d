"""Which replica a download reads each blob of an object from, skipping bad ones.

The read model lists a blob's replicas in the order they were recorded; a download tries them in
that order and skips one whose file is missing, unreadable or of the wrong size, or — for blobs up
to ``VERIFY_MAX`` — whose SHA-256 does not match. Bigger blobs are only checked for size: hashing
them first would cost a full extra read before the first byte. Once bytes are on the wire a
mismatch found afterwards could not be taken back anyway, so corruption in big blobs is the
scrubber's to find and repair (storage/scrubber.py), which takes a corrupt replica out of the way
at once so readers fall back to a good one.

The first blob of an object is chosen (and verified) before the response starts, so an object
without any intact replica is a clean 503. The blobs after it (parts of a multipart object) are
verified just before they are sent, so a 100-part object does not hash 100 parts before its first
byte; should none of a later part's replicas be intact, the response is cut short rather than
carry wrong bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from storage.base import StorageError
from storage.replicas import read_order

log = structlog.get_logger("api.download")

VERIFY_MAX = 8 * 1024 * 1024
"""Blobs up to this size are hashed before any of their bytes is sent."""
VERIFY_INLINE = 64 * 1024
"""Blobs up to this size on a local disk are hashed on the event loop."""
READ_CHUNK = 1024 * 1024


@dataclass
class Segment:
    """One blob of an object, and the replica a download reads it from: a local file (sent with
    sendfile), the verified bytes of a small blob (read once, hashed, sent from memory), or a
    remote blob streamed with get()."""

    blob_id: str
    size: int
    sha256: str
    replicas: list[str]
    sidecars: Mapping[str, Any] = field(repr=False, default_factory=dict)
    path: Path | None = None
    data: bytes | None = None
    remote: Any = None
    verified: bool = False

    async def choose(self, verify: bool) -> bool:
        """Pick the first good replica; False when there is none."""
        self.path, self.data, self.remote = None, None, None
        for name in read_order(self.replicas, self.sidecars):
            sidecar = self.sidecars[name]
            try:
                if getattr(sidecar, "local", True):
                    found = await self._local(sidecar, verify)
                else:
                    found = await self._remote(sidecar, verify)
            except (StorageError, OSError) as exc:
                log.warning(
                    "download.replica_unreadable",
                    sidecar=name,
                    blob_id=self.blob_id,
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            if found:
                self.verified = verify or not self._hashable
                return True
        return False

    @property
    def _hashable(self) -> bool:
        return bool(self.sha256) and self.size <= VERIFY_MAX

    async def _local(self, sidecar: Any, verify: bool) -> bool:
        path: Path = sidecar.path(self.blob_id)
        # On a local disk a stat, or hashing a small file, costs less than a hop to a thread; a
        # share (nas) may hang, and must never hang the event loop with it.
        on_loop = getattr(sidecar, "kind", "") == "disk"
        try:
            stat = os.stat(path) if on_loop else await asyncio.to_thread(os.stat, path)
        except FileNotFoundError:
            return False
        if stat.st_size != self.size:
            return self._bad(sidecar.name, f"size {stat.st_size} != {self.size}")
        if verify and self._hashable:
            if on_loop and self.size <= VERIFY_INLINE:
                # Read once: the bytes that were verified are the bytes sent (no second open,
                # no thread hops, and no window for the file to change in between).
                data = _read_file(path)
                if hashlib.sha256(data).hexdigest() != self.sha256:
                    return self._bad(sidecar.name, "sha256 mismatch")
                self.data = data
            elif await asyncio.to_thread(_sha256_file, path) != self.sha256:
                return self._bad(sidecar.name, "sha256 mismatch")
        self.path = path
        return True

    async def _remote(self, sidecar: Any, verify: bool) -> bool:
        if not (verify and self._hashable):
            if not await sidecar.exists(self.blob_id):
                return False
            self.remote = sidecar
            return True
        # A small remote blob is fetched once: verified, then sent from memory.
        data = b"".join([chunk async for chunk in sidecar.get(self.blob_id)])
        if len(data) != self.size or hashlib.sha256(data).hexdigest() != self.sha256:
            return self._bad(sidecar.name, "size or sha256 mismatch")
        self.data = data
        return True

    def _bad(self, sidecar: str, problem: str) -> bool:
        log.warning(
            "download.replica_corrupt", sidecar=sidecar, blob_id=self.blob_id, problem=problem
        )
        return False


async def segments(
    sidecars: Mapping[str, Any], row: dict[str, Any], *, verify: bool = True
) -> list[Segment] | None:
    """The blobs holding an object, in order, each with a readable replica chosen; None when
    some blob has none (or, with ``verify``, the first has no intact one). ``verify`` False (a
    HEAD) only looks for the files."""
    pieces = row.get("parts") or [
        {
            "blob_id": row["blob_id"],
            "size": row["size"],
            "sha256": row.get("sha256", ""),
            "replicas": row["replicas"],
        }
    ]
    found = []
    for i, piece in enumerate(pieces):
        segment = Segment(
            blob_id=piece["blob_id"],
            size=int(piece["size"]),
            sha256=piece.get("sha256") or "",
            replicas=list(piece.get("replicas") or row["replicas"]),
            sidecars=sidecars,
        )
        if not await segment.choose(verify=verify and i == 0):
            return None
        found.append(segment)
    return found


def _read_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(READ_CHUNK):
            digest.update(data)
    return digest.hexdigest()
