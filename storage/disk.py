"""The ``disk`` sidecar: temp file, fsync, atomic rename, fsync of the directory.

Layout: ``ROOT/blobs/ab/cd/<blob_id>`` with ``ab``/``cd`` from a digest of the id (UUIDv7 ids
start with a timestamp, so their first characters would crowd a few directories).

Every blocking call goes through ``_io`` so that ``nas`` (storage/nas.py) can bound it by a time
budget without repeating the file logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from storage import groupsync
from storage.base import BlobNotFound, DigestMismatch, Health, Stalled, StorageError, Stored
from storage.groupsync import GroupSync

BLOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
READ_CHUNK = 1024 * 1024
T = TypeVar("T")


INLINE_WRITE_MAX = 64 * 1024
"""Small blobs up to this size are written on the event loop (see ``put_bytes``)."""


class DiskSidecar:
    kind = "disk"
    local = True
    writes_inline = True
    """Small writes may run on the event loop: a local disk answers them from the page cache."""

    def __init__(self, name: str, root: Path | str, *, group_commit: bool = True) -> None:
        self.name = name
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._made: set[Path] = set()
        self._prepare()
        self._group = GroupSync(self.root) if group_commit and groupsync.available() else None

    def _prepare(self) -> None:
        # A root that cannot be made now (a share not mounted, a path blocked by a file) must not
        # stop the process: the sidecar reports unhealthy and the quorum decides.
        with contextlib.suppress(OSError):
            self.root.mkdir(parents=True, exist_ok=True)

    async def _io(
        self,
        fn: Callable[..., T],
        *args: Any,
        nbytes: int = 0,
        abandon: Callable[[T | None], object] | None = None,
    ) -> T:
        """Run blocking file work off the event loop. ``nbytes`` (the bytes it moves) and
        ``abandon`` (cleanup for a call the caller gave up on) matter only to ``nas``."""
        return await asyncio.to_thread(fn, *args)

    def path(self, blob_id: str) -> Path:
        if not BLOB_ID.match(blob_id):
            raise StorageError(f"invalid blob id {blob_id!r}")
        h = hashlib.blake2b(blob_id.encode(), digest_size=2).hexdigest()
        return self.root / "blobs" / h[:2] / h[2:] / blob_id

    async def put(
        self, blob_id: str, chunks: AsyncIterator[bytes], *, sha256: str | None = None
    ) -> Stored:
        final = self.path(blob_id)
        if sha256 is not None:
            size = await self._io(_size, final)
            if size is not None:  # rename is atomic: a present file is complete
                await _drain(chunks)
                return Stored(size=size, sha256=sha256)
        await self._io(self._ensure_dirs, final.parent)
        tmp = self._tmp / f"{blob_id}.{os.urandom(4).hex()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = await self._io(os.open, tmp, flags, 0o640, abandon=lambda new: _discard(new, tmp))

        def abandon(_: object) -> None:  # a stalled write still holds fd: close it afterwards
            _discard(fd, tmp)

        digest = hashlib.sha256()
        size = 0
        own_fd, done, stalled = True, False, False
        try:
            pending = b""
            async for chunk in chunks:
                size += len(chunk)
                pending += chunk
                if len(pending) >= READ_CHUNK:
                    await self._io(
                        _write_out,
                        fd,
                        pending,
                        size - len(pending),
                        digest,
                        nbytes=len(pending),
                        abandon=abandon,
                    )
                    pending = b""
            digest.update(pending)
            got = digest.hexdigest()
            if sha256 is not None and got != sha256:
                raise DigestMismatch(f"{self.name}: blob {blob_id} sha256 {got} != {sha256}")
            own_fd = False  # _finish closes it, whatever happens
            await self._io(
                _finish,
                fd,
                pending,
                tmp,
                final,
                nbytes=len(pending),
                abandon=lambda _: tmp.unlink(missing_ok=True),
            )
            done = True
        except Stalled:
            stalled = True  # the stalled call's abandon cleans up once its system call returns
            raise
        finally:
            if not done and not stalled:
                with contextlib.suppress(StorageError, OSError):
                    await self._io(_discard, fd if own_fd else None, tmp)
        return Stored(size=size, sha256=got)

    async def put_bytes(self, blob_id: str, data: bytes, *, sha256: str | None = None) -> Stored:
        """The small-object fast path: the write, then a shared flush (group commit).

        On a local disk a small write only reaches the page cache (the flush, which waits for
        the device, runs on a thread): done right here it costs less than a hop to a worker
        thread and back. Elsewhere (``nas``: a share may hang) it goes through ``_io``."""
        if self._group is None:
            return await self._io(self._put_bytes, blob_id, data, sha256, True, nbytes=len(data))
        if self.writes_inline and len(data) <= INLINE_WRITE_MAX:
            stored = self._put_bytes(blob_id, data, sha256, False)
        else:
            stored = await self._io(self._put_bytes, blob_id, data, sha256, False, nbytes=len(data))
        await self._group.sync()
        return stored

    def _put_bytes(self, blob_id: str, data: bytes, sha256: str | None, durable: bool) -> Stored:
        got = hashlib.sha256(data).hexdigest()
        if sha256 is not None and got != sha256:
            raise DigestMismatch(f"{self.name}: blob {blob_id} sha256 {got} != {sha256}")
        final = self.path(blob_id)
        # Re-read what is there: a group-committed file that a power loss caught before its
        # flush may be present but empty; a small blob costs little to verify.
        if self._matches(final, got):
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
        f = await self._io(self._open, path, abandon=_close)

        def abandon(_: object) -> None:  # a stalled read still holds f: close it afterwards
            f.close()

        stalled = False
        try:
            await self._io(f.seek, offset, abandon=abandon)
            remaining = length
            while remaining is None or remaining > 0:
                n = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                data = await self._io(f.read, n, nbytes=n, abandon=abandon)
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data
        except Stalled:
            stalled = True
            raise
        finally:
            if not stalled:
                with contextlib.suppress(StorageError, OSError):
                    await self._io(f.close)

    async def delete(self, blob_id: str) -> None:
        await self._io(self._unlink, self.path(blob_id))

    async def exists(self, blob_id: str) -> bool:
        return await self._io(self._exists, self.path(blob_id))

    async def verify(self, blob_id: str, sha256: str) -> bool:
        path = self.path(blob_id)
        size = await self._io(_size, path)
        if size is None:
            return False
        return await self._io(self._matches, path, sha256, nbytes=size)

    async def health(self) -> Health:
        try:
            return await self._io(self._probe)
        except (StorageError, OSError) as exc:
            return Health(ok=False, detail=f"{self.root}: {exc}")

    async def close(self) -> None:
        pass

    # Blocking helpers, run by _io; nas overrides those that must notice an absent share.

    def _probe(self) -> Health:
        self._ensure_dirs(self._tmp)
        probe = self._tmp / f".health.{os.getpid()}.{os.urandom(4).hex()}"
        probe.write_bytes(b"ok")
        probe.unlink()
        return Health(ok=True, detail=str(self.root))

    def _open(self, path: Path) -> BinaryIO:
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"{self.name}: no blob {path.name}") from None

    def _exists(self, path: Path) -> bool:
        return path.exists()

    def _unlink(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def _ensure_dirs(self, directory: Path) -> None:
        if directory in self._made:
            return
        self._tmp.mkdir(parents=True, exist_ok=True)
        directory.mkdir(parents=True, exist_ok=True)
        self._made.add(directory)

    @staticmethod
    def _matches(path: Path, sha256: str) -> bool:
        """Is a complete blob with this digest there? Re-reads it, to catch bit rot."""
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while data := f.read(READ_CHUNK):
                    digest.update(data)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _close(f: BinaryIO | None) -> None:
    if f is not None:
        f.close()


def _discard(fd: int | None, tmp: Path) -> None:
    if fd is not None and fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
    tmp.unlink(missing_ok=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_out(fd: int, data: bytes, offset: int, digest: Any) -> None:
    """Hash and write the next piece of a big blob (off the event loop: hashlib lets go of the
    GIL), and start its writeback: disk writes overlap with receiving the rest, and the closing
    fsync is short."""
    digest.update(data)
    _write_all(fd, data)
    groupsync.start_writeback(fd, offset, len(data))


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
