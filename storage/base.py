"""The one interface every storage sidecar implements (design.md section 6).

Blobs are stored by blob id, never by the user's key, so no key can escape a storage root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


class StorageError(Exception):
    """A sidecar could not do what was asked."""


class DigestMismatch(StorageError):
    """The bytes received or read back do not match the expected SHA-256."""


class BlobNotFound(StorageError):
    pass


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

    async def put(
        self, blob_id: str, chunks: AsyncIterator[bytes], *, sha256: str | None = None
    ) -> Stored:
        """Store the bytes durably (fsynced) and atomically; a blob already stored with the same
        digest is kept (idempotent). With ``sha256``, a mismatch raises and stores nothing."""
        ...

    def get(
        self, blob_id: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]: ...

    async def delete(self, blob_id: str) -> None: ...

    async def exists(self, blob_id: str) -> bool: ...

    async def health(self) -> Health: ...
