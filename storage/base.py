"""The one interface every storage sidecar implements (design.md section 6).

Blobs are stored by blob id, never by the user's key, so no key can escape a storage root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class StorageError(Exception):
    """A sidecar could not do what was asked."""


class DigestMismatch(StorageError):
    """The bytes received or read back do not match the expected SHA-256."""


class BlobNotFound(StorageError):
    pass


class Stalled(StorageError):
    """An operation did not finish within its time budget. It may still complete in the
    background (a blocked system call cannot be interrupted), so treat the outcome as unknown."""


@dataclass(frozen=True, slots=True)
class Stored:
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str = ""


class Sidecar(Protocol):
    name: str
    kind: str
    local: bool
    """True when ``path(blob_id)`` names a readable local file (disk, nas): only then may a
    reader bypass ``get`` (e.g. sendfile). node and s3 sidecars have no ``path``."""

    async def put(
        self, blob_id: str, chunks: AsyncIterator[bytes], *, sha256: str | None = None
    ) -> Stored:
        """Store the bytes durably (fsynced) and atomically; a blob already stored with the same
        digest is kept (idempotent). With ``sha256``, a mismatch raises and stores nothing."""
        ...

    async def put_bytes(self, blob_id: str, data: bytes, *, sha256: str | None = None) -> Stored:
        """``put`` for bytes already in memory: cheaper, and safe to retry."""
        ...

    def get(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The bytes from ``offset``, ``length`` of them (all when None); BlobNotFound if absent.
        A range past the end yields nothing."""
        ...

    async def delete(self, blob_id: str) -> None:
        """Remove the blob; deleting an absent blob is not an error."""
        ...

    async def exists(self, blob_id: str) -> bool: ...

    async def verify(self, blob_id: str, sha256: str) -> bool:
        """Is the blob there with this digest? disk/nas/node re-read the bytes; s3 compares the
        digest recorded when the object was written."""
        ...

    async def health(self) -> Health: ...

    async def close(self) -> None:
        """Release connections (node, s3); a no-op for local kinds."""
        ...


class LocalSidecar(Sidecar, Protocol):
    """A sidecar whose blobs are plain local files (``local`` is True)."""

    def path(self, blob_id: str) -> Path: ...
