"""Checking one replica of a blob, and putting a verified copy where one is missing or corrupt.

Shared by the replicator (catch-up after a write) and the scrubber (periodic verification).
Every copy is verified against the blob's SHA-256 by the receiving sidecar before it becomes
visible, so a bad source (a corrupt replica, an expired chunk) can cost time but never spread.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from storage.base import Sidecar, StorageError

log = structlog.get_logger("storage.integrity")

Source = Callable[[], AsyncIterator[bytes]]
"""Opens the bytes of a blob afresh: a healthy replica, or the blob's chunks in the log. Its
failures are StorageErrors (the log's are translated where that source is made)."""
ASIDE = ".corrupt"  # blob ids never contain a dot, so this never names a blob


class Verdict(enum.Enum):
    OK = "ok"
    MISSING = "missing"
    CORRUPT = "corrupt"
    UNREACHABLE = "unreachable"


def is_local(sidecar: Any) -> bool:
    return bool(getattr(sidecar, "local", True))


async def check(sidecar: Sidecar, blob_id: str, sha256: str) -> Verdict:
    """Re-read the replica and compare digests (a blob without a recorded digest, from old
    events, can only be checked for presence)."""
    try:
        if not await sidecar.exists(blob_id):
            return Verdict.MISSING
        if not sha256 or await sidecar.verify(blob_id, sha256):
            return Verdict.OK
        # verify is also False for a blob deleted meanwhile: look again before calling it corrupt
        return Verdict.CORRUPT if await sidecar.exists(blob_id) else Verdict.MISSING
    except (StorageError, OSError) as exc:
        log.warning("replica.unreachable", sidecar=sidecar.name, blob_id=blob_id, error=str(exc))
        return Verdict.UNREACHABLE


def replica_source(sidecar: Sidecar, blob_id: str) -> Source:
    return lambda: sidecar.get(blob_id)


async def set_aside(sidecar: Sidecar, blob_id: str) -> None:
    """Take a corrupt replica out of readers' way at once. A local one is renamed next to where it
    was (kept for inspection until a good copy replaces it); a remote one is deleted, since a
    remote sidecar has no rename."""
    if not is_local(sidecar):
        await sidecar.delete(blob_id)
        return
    path: Path = sidecar.path(blob_id)  # type: ignore[attr-defined]
    with contextlib.suppress(FileNotFoundError):  # another scrubber was first
        await asyncio.to_thread(os.replace, path, _aside(path))


async def discard_aside(sidecar: Sidecar, blob_id: str) -> None:
    if is_local(sidecar):
        path: Path = sidecar.path(blob_id)  # type: ignore[attr-defined]
        await asyncio.to_thread(_aside(path).unlink, True)


def _aside(path: Path) -> Path:
    return path.with_name(path.name + ASIDE)


async def restore(target: Sidecar, blob_id: str, sha256: str, sources: Sequence[Source]) -> bool:
    """Store a copy on ``target`` from the first source whose bytes have the right digest.

    ``target`` must not hold the blob (missing, or set aside): a sidecar's put keeps a blob that
    is already there. Its put writes a temp file and renames it into place once verified, so
    readers never see a partial or unverified copy."""
    for source in sources:
        try:
            await target.put(blob_id, source(), sha256=sha256 or None)
            return True
        except (StorageError, OSError) as exc:  # a bad source, or the target failing
            log.warning("replica.copy_failed", target=target.name, blob_id=blob_id, error=str(exc))
    return False
