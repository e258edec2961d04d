"""Streaming object bodies: uploads into the log (inline or chunked), downloads from a replica.

Neither direction holds a whole object in memory: uploads keep at most two chunks in flight to the
log, downloads go from the replica file to the socket with sendfile (api/segments.py chooses the
replica, skipping missing and corrupt ones).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import os
import select
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import IO, Any

import aiohttp
from aiohttp import web

from api.errors import ApiError
from api.segments import Segment
from api.segments import segments as segments  # where the callers find it
from bus.log import Bus
from events.envelope import new_id

IN_FLIGHT = 2


@dataclass
class Upload:
    blob_id: str
    size: int = 0
    md5: str = ""
    sha256: str = ""
    inline: bytes | None = None
    chunks: list[int] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """What a PutObject or UploadPart command says about the stored bytes."""
        return {
            "blob_id": self.blob_id,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
            "inline": self.inline,
            "chunks": self.chunks,
        }


async def receive(
    request: web.Request,
    bus: Bus,
    *,
    inline_max: int,
    chunk_size: int,
    max_size: int,
    pieces: AsyncIterator[bytes] | None = None,
    declared: int | None = None,
    observe: Callable[[bytes], None] | None = None,
) -> Upload:
    """Read a request body into the log; verify its length and Content-MD5.

    ``pieces``/``declared`` replace the raw body and its Content-Length (an aws-chunked body is
    decoded by the caller); ``observe`` sees every byte (extra checksums)."""
    if pieces is None:
        declared = request.content_length
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if declared is None and not chunked:
            raise ApiError("MissingContentLength")
        pieces = request.content.iter_chunked(256 * 1024)
    if declared is not None and declared > max_size:
        raise ApiError("EntityTooLarge", f"Objects are at most {max_size} bytes.")
    upload = Upload(blob_id=new_id().hex)
    digests = _Digests()
    buffer = bytearray()
    pending: list[asyncio.Task[int]] = []

    async def flush(data: bytes) -> None:
        while len(pending) >= IN_FLIGHT:
            upload.chunks.append(await pending.pop(0))
        digests.feed(data)
        pending.append(asyncio.create_task(bus.put_chunk(upload.blob_id, data)))

    try:
        async for data in pieces:
            if observe is not None:
                observe(data)
            upload.size += len(data)
            if upload.size > max_size:
                raise ApiError("EntityTooLarge", f"Objects are at most {max_size} bytes.")
            buffer += data
            if len(buffer) >= chunk_size and upload.size > inline_max:
                await flush(bytes(memoryview(buffer)[:chunk_size]))
                del buffer[:chunk_size]
        if declared is not None and upload.size != declared:
            raise ApiError("IncompleteBody", resource=request.path)
        if upload.size <= inline_max and not pending and not upload.chunks:
            upload.inline = bytes(buffer)
            digests.feed(upload.inline)
        elif buffer:
            await flush(bytes(buffer))
        for task in pending:
            upload.chunks.append(await task)
        pending.clear()
        md5 = await digests.result()
    except (aiohttp.ClientPayloadError, ConnectionError, asyncio.IncompleteReadError) as exc:
        await _abandon(bus, upload, pending, digests)
        raise ApiError("IncompleteBody", f"The request body ended early: {exc}") from exc
    except BaseException:
        await _abandon(bus, upload, pending, digests)
        raise
    upload.md5, upload.sha256 = md5.hexdigest(), digests.sha.hexdigest()
    expected_md5 = request.headers.get("Content-MD5")
    if expected_md5 is not None:
        try:
            decoded = base64.b64decode(expected_md5, validate=True)
        except ValueError:
            decoded = b""
        if len(decoded) != 16:
            await discard(bus, upload)
            raise ApiError("InvalidDigest", "The Content-MD5 you specified is not valid.")
        if decoded != md5.digest():
            await discard(bus, upload)
            raise ApiError(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
    return upload


HASH_ON_LOOP = 64 * 1024
"""Bodies up to this size are hashed on the event loop; bigger chunks on a thread (hashlib
releases the GIL), in order, while the next bytes arrive and earlier chunks go to the log."""


class _Digests:
    """MD5 and SHA-256 of an upload, fed chunk by chunk in order."""

    def __init__(self) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha = hashlib.sha256()
        self._last: asyncio.Future[None] | None = None

    def _update(self, data: bytes) -> None:
        self.md5.update(data)
        self.sha.update(data)

    def feed(self, data: bytes) -> None:
        if len(data) <= HASH_ON_LOOP and self._last is None:
            self._update(data)
            return
        self._last = asyncio.ensure_future(self._after(self._last, data))

    async def _after(self, previous: asyncio.Future[None] | None, data: bytes) -> None:
        if previous is not None:
            await previous
        await asyncio.to_thread(self._update, data)

    async def result(self) -> Any:
        """The MD5 object once every chunk fed is hashed (the SHA-256 is ``sha``)."""
        if self._last is not None:
            await self._last
        return self.md5

    async def settle(self) -> None:
        """Wait for hashing still under way, whatever its outcome (nothing is cancelled)."""
        if self._last is not None:
            with contextlib.suppress(BaseException):
                await self._last


async def _abandon(
    bus: Bus, upload: Upload, pending: list[asyncio.Task[int]], digests: _Digests
) -> None:
    await digests.settle()  # let a hashing thread finish before the upload is dropped
    for task in pending:
        with contextlib.suppress(BaseException):
            upload.chunks.append(await task)
    await discard(bus, upload)


async def discard(bus: Bus, upload: Upload) -> None:
    """Drop an upload's chunks from the log (it will never be referenced)."""
    if upload.chunks:
        with contextlib.suppress(Exception):
            await bus.purge_blob(upload.blob_id)


# ---------------------------------------------------------------- downloads


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One ``bytes=`` range (as S3: several ranges, or a malformed header, mean the whole object);
    an unsatisfiable one raises InvalidRange."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise ApiError("InvalidRange", resource=f"bytes */{size}")
            return ByteRange(max(size - n, 0), size - 1) if size else _unsatisfiable(size)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        _unsatisfiable(size)
    if start < 0 or end < start:
        return None
    return ByteRange(start, min(end, size - 1))


def _unsatisfiable(size: int) -> ByteRange:
    raise ApiError(
        "InvalidRange",
        f"The requested range is not satisfiable (size {size}).",
        actual_object_size=size,
    )


@functools.lru_cache(maxsize=4096)
def http_date(dt: datetime) -> str:
    """RFC 9110 date of a stored time (objects' times repeat on every read: cached)."""
    return format_datetime(dt, usegmt=True)


def check_preconditions(request: web.Request, etag: str, modified: datetime) -> int | None:
    """RFC 7232 as S3 applies it: 412 or 304, or None to go on."""
    quoted = f'"{etag}"'
    if_match = request.headers.get("If-Match")
    if if_match is not None and not _etag_in(if_match, quoted):
        return 412
    if_unmodified = _parse_date(request.headers.get("If-Unmodified-Since"))
    if (
        if_match is None
        and if_unmodified is not None
        and modified.replace(microsecond=0) > if_unmodified
    ):
        return 412
    if_none = request.headers.get("If-None-Match")
    if if_none is not None and _etag_in(if_none, quoted):
        return 304
    if_modified = _parse_date(request.headers.get("If-Modified-Since"))
    if (
        if_none is None
        and if_modified is not None
        and modified.replace(microsecond=0) <= if_modified
    ):
        return 304
    return None


def _etag_in(header: str, quoted: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or quoted in tags or quoted.strip('"') in tags


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


class BlobResponse(web.StreamResponse):
    """Sends (part of) an object, stored as one or more blobs (the parts of a multipart upload),
    each from the replica api/segments.py chose: local files with sendfile once the headers are
    out, remote ones streamed."""

    def __init__(
        self, pieces: list[Segment], byte_range: ByteRange | None, size: int, **kwargs: Any
    ) -> None:
        super().__init__(status=206 if byte_range else 200, **kwargs)
        self._segments = pieces
        self._offset = byte_range.start if byte_range else 0
        self._count = byte_range.length if byte_range else size
        self.content_length = self._count
        if byte_range:
            self.headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"

    async def prepare(self, request: web.BaseRequest) -> Any:
        writer = await super().prepare(request)
        if request.method == "HEAD" or self._count == 0:
            return writer
        start, remaining, base = self._offset, self._count, 0
        for segment in self._segments:
            size = segment.size
            lo = max(start - base, 0)
            base += size
            if lo >= size or remaining <= 0:
                continue
            n = min(size - lo, remaining)
            if not segment.verified and not await segment.choose(verify=True):
                # The headers are out: cutting the response short is the only honest answer.
                raise ConnectionResetError(f"no intact replica of blob {segment.blob_id}")
            await self._send(request, writer, segment, lo, n)
            remaining -= n
        await super().write_eof()
        return writer

    async def _send(
        self, request: web.BaseRequest, writer: Any, segment: Segment, offset: int, count: int
    ) -> None:
        if segment.data is not None:
            await writer.write(segment.data[offset : offset + count])
            return
        if segment.path is None:
            async for chunk in segment.remote.get(segment.blob_id, offset, count):
                await writer.write(chunk)
            return
        fobj = await asyncio.to_thread(open, segment.path, "rb")
        try:
            transport = request.transport
            if transport is None:
                raise ConnectionResetError("connection lost")
            await writer.drain()
            try:
                await request._loop.sendfile(transport, fobj, offset, count)
            except NotImplementedError:  # uvloop has no loop.sendfile: do it on a thread
                sock = transport.get_extra_info("socket")
                if sock is None:
                    await _copy(writer, fobj, offset, count)
                else:
                    await _sendfile(sock.fileno(), fobj.fileno(), offset, count)
        finally:
            fobj.close()


SENDFILE_STALL = 60.0
"""Seconds a download may make no progress (a client that stopped reading) before it is cut."""


async def _sendfile(sock_fd: int, file_fd: int, offset: int, count: int) -> None:
    """Kernel-to-kernel copy from the file to the connection's socket, on a worker thread.

    The event loop has written everything before (the caller drained it) and writes nothing
    until this returns. The socket is duplicated first: should the connection be closed
    meanwhile, its number cannot be reused under the thread for another file."""
    out = os.dup(sock_fd)
    try:
        await asyncio.to_thread(_sendfile_blocking, out, file_fd, offset, count)
    finally:
        os.close(out)


def _sendfile_blocking(out: int, file_fd: int, offset: int, count: int) -> None:
    poller = select.poll()
    poller.register(out, select.POLLOUT)
    while count > 0:
        try:
            sent = os.sendfile(out, file_fd, offset, min(count, 1 << 30))
        except BlockingIOError:
            if not poller.poll(SENDFILE_STALL * 1000):
                raise ConnectionResetError("the client stopped reading") from None
            continue
        if sent == 0:
            raise ConnectionResetError("the file ended early")
        offset += sent
        count -= sent


async def _copy(writer: Any, fobj: IO[bytes], offset: int, count: int) -> None:
    await asyncio.to_thread(fobj.seek, offset)
    while count > 0:
        data = await asyncio.to_thread(fobj.read, min(count, 1024 * 1024))
        if not data:
            break
        count -= len(data)
        await writer.write(data)
