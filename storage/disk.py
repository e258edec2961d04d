"""The ``disk`` sidecar: temp file, fsync, atomic rename, fsync of the directory.

Layout: ``ROOT/blobs/ab/cd/<blob_id>`` with ``ab``/``cd`` from a digest of the id (UUIDv7 ids
start with a timestamp, so their first characters would crowd a few directories).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

from storage import groupsync
from storage.base import BlobNotFound, DigestMismatch, Health, StorageError, Stored
from storage.groupsync import GroupSync

BLOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
READ_CHUNK = 1024 * 1024


class DiskSidecar:
    kind = "disk"

    def __init__(self, name: str, root: Path | str, *, group_commit: bool = True) -> None:
        self.name = name
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._made: set[Path] = set()
        self.root.mkdir(parents=True, exist_ok=True)
        self._group = GroupSync(self.root) if group_commit and groupsync.available() else None

    def path(self, blob_id: str) -> Path:
        if not BLOB_ID.match(blob_id):
            raise StorageError(f"invalid blob id {blob_id!r}")
        h = hashlib.blake2b(blob_id.encode(), digest_size=2).hexdigest()
        return self.root / "blobs" / h[:2] / h[2:] / blob_id

    async def put(
        self, blob_id: str, chunks: AsyncIterator[bytes], *, sha256: str | None = None
    ) -> Stored:
        final = self.path(blob_id)
        if sha256 is not None and await asyncio.to_thread(self._matches, final, sha256):
            await _drain(chunks)
            return Stored(size=final.stat().st_size, sha256=sha256)
        await asyncio.to_thread(self._ensure_dirs, final.parent)
        tmp = self._tmp / f"{blob_id}.{os.urandom(4).hex()}"
        fd = await asyncio.to_thread(os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        digest = hashlib.sha256()
        size = 0
        try:
            pending = b""
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                pending += chunk
                if len(pending) >= READ_CHUNK:
                    await asyncio.to_thread(_write_all, fd, pending)
                    pending = b""
            got = digest.hexdigest()
            if sha256 is not None and got != sha256:
                raise DigestMismatch(f"{self.name}: blob {blob_id} sha256 {got} != {sha256}")
            await asyncio.to_thread(_finish, fd, pending, tmp, final)
            fd = -1
        finally:
            if fd >= 0:
                os.close(fd)
                tmp.unlink(missing_ok=True)
        return Stored(size=size, sha256=got)

    async def put_bytes(self, blob_id: str, data: bytes, *, sha256: str | None = None) -> Stored:
        """The small-object fast path: one thread hop for the write, then a shared flush."""
        if self._group is None:
            return await asyncio.to_thread(self._put_bytes, blob_id, data, sha256, True)
        stored = await asyncio.to_thread(self._put_bytes, blob_id, data, sha256, False)
        await self._group.sync()
        return stored

    def _put_bytes(self, blob_id: str, data: bytes, sha256: str | None, durable: bool) -> Stored:
        got = hashlib.sha256(data).hexdigest()
        if sha256 is not None and got != sha256:
            raise DigestMismatch(f"{self.name}: blob {blob_id} sha256 {got} != {sha256}")
        final = self.path(blob_id)
        # Re-read what is there: a group-committed file that a power loss caught before its
        # flush may be present but empty; a small blob costs little to verify.
        if self._matches(final, got, full=True):
            return Stored(size=len(data), sha256=got)
        self._ensure_dirs(final.parent)
        tmp = self._tmp / f"{blob_id}.{os.urandom(4).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            _finish(fd, data, tmp, final, durable=durable)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Stored(size=len(data), sha256=got)

    async def get(
        self, blob_id: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.path(blob_id)
        try:
            f = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"{self.name}: no blob {blob_id}") from None
        try:
            await asyncio.to_thread(f.seek, offset)
            remaining = length
            while remaining is None or remaining > 0:
                n = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                data = await asyncio.to_thread(f.read, n)
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            f.close()

    async def delete(self, blob_id: str) -> None:
        await asyncio.to_thread(self.path(blob_id).unlink, True)

    async def exists(self, blob_id: str) -> bool:
        return await asyncio.to_thread(self.path(blob_id).exists)

    async def verify(self, blob_id: str, sha256: str) -> bool:
        return await asyncio.to_thread(self._matches, self.path(blob_id), sha256, True)

    async def health(self) -> Health:
        def probe() -> Health:
            try:
                self._ensure_dirs(self._tmp)
                probe = self._tmp / f".health.{os.getpid()}"
                probe.write_bytes(b"ok")
                probe.unlink()
                return Health(ok=True, detail=str(self.root))
            except OSError as exc:
                return Health(ok=False, detail=f"{self.root}: {exc}")

        return await asyncio.to_thread(probe)

    def _ensure_dirs(self, directory: Path) -> None:
        if directory in self._made:
            return
        self._tmp.mkdir(parents=True, exist_ok=True)
        directory.mkdir(parents=True, exist_ok=True)
        self._made.add(directory)

    @staticmethod
    def _matches(path: Path, sha256: str, full: bool = False) -> bool:
        """Is a complete blob with this digest already there? Rename is atomic, so a present file
        is complete; ``full`` re-reads it to catch bit rot."""
        if not path.exists():
            return False
        if not full:
            return True
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while data := f.read(READ_CHUNK):
                digest.update(data)
        return digest.hexdigest() == sha256


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _finish(fd: int, tail: bytes, tmp: Path, final: Path, *, durable: bool = True) -> None:
    try:
        _write_all(fd, tail)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    if not durable:
        return  # the caller makes it durable (group commit)
    dfd = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    async for _ in chunks:
        pass
