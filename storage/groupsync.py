"""Group commit for small writes: many files made durable by one ``syncfs(2)``.

Each small blob would otherwise cost two fsyncs (the file, then its directory for the rename).
Writers that arrive while a flush runs share the next one, so under load the cost per blob falls
to a fraction of one flush. ``syncfs`` writes back every dirty page and inode of the filesystem
and waits for it, which covers the file data, the rename and the directory entry.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)


_sync_file_range = getattr(_libc, "sync_file_range", None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """Ask the kernel to start writing a range of a file to disk now, without waiting for it
    (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``): a big file's closing fsync then waits
    for its tail only, not for all of it. A hint: where unavailable, nothing happens."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


def available() -> bool:
    return _syncfs is not None


def syncfs(fd: int) -> None:
    if _syncfs is None:
        raise OSError("syncfs is not available on this platform")
    if _syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class GroupSync:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._fd: int | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def sync(self) -> None:
        """Return once everything written before the call is durable."""
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        assert self._wake is not None
        self._wake.set()
        await future

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._waiters = self._waiters, []
            if not batch:
                continue
            try:
                # Opened here, inside the try: a root that is gone or not a directory must fail
                # the waiting writers, never leave them waiting on a task that died.
                if self._fd is None:
                    self._fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY)
                await asyncio.to_thread(syncfs, self._fd)
            except OSError as exc:
                for future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for future in batch:
                    if not future.done():
                        future.set_result(None)
