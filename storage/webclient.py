"""What the HTTP sidecars (``node``, ``s3``) share: one session, time budgets, retries.

Budgets: a small call (HEAD, DELETE, a body already in memory) gets ``timeout`` seconds plus
``per_mib`` seconds per MiB of body, per attempt. A streamed upload gets the same budget *per
chunk* — time spent waiting for our own source does not count — and a download relies on the
socket read timeout, which aiohttp pauses while the consumer is not reading. So a slow or dead
peer fails a call in bounded time, while a large transfer is never cut off for being large.

Retries: only calls that are safe to repeat (everything but a streamed upload, whose source can
be read once) are retried on connection errors, timeouts and 5xx, with a doubling backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

import aiohttp
from yarl import URL

from storage.base import Stalled, StorageError

MIB = 1024 * 1024
READ_CHUNK = 1024 * 1024
T = TypeVar("T")


class Transient(StorageError):
    """A failure worth another attempt (the peer answered 5xx)."""


@dataclass(frozen=True)
class Endpoint:
    """A spec's URL split into where to connect and the credentials in its userinfo."""

    base: URL  # scheme://host:port/path, without userinfo or query
    key: str = field(repr=False)
    secret: str = field(repr=False)

    @classmethod
    def parse(cls, kind: str, location: str) -> Endpoint:
        url = URL(location)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{kind} location must be an http(s):// URL")
        if not url.user or not url.password:
            raise ValueError(f"{kind} location needs its credentials as http://KEY:SECRET@host")
        return cls(url.with_user(None).with_query(None).with_fragment(None), url.user, url.password)


class HttpSidecar:
    """Base of the remote sidecars; subclasses set ``kind`` and map their peer's errors."""

    kind = "http"
    local = False

    def __init__(
        self,
        name: str,
        endpoint: Endpoint | str,
        *,
        timeout: float = 10.0,
        per_mib: float = 2.0,
        retries: int = 3,
        connections: int = 64,
    ) -> None:
        self.name = name
        if isinstance(endpoint, str):
            endpoint = Endpoint.parse(self.kind, endpoint)
        self.endpoint = endpoint
        self.timeout = timeout
        self.per_mib = per_mib
        self.retries = retries
        self.connections = connections
        self.headers = {"Accept-Encoding": "identity"}  # the node adds its Authorization
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the running event loop (a session is bound to it)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout, sock_read=self.timeout
                ),
                connector=aiohttp.TCPConnector(limit=self.connections),
                auto_decompress=False,  # blobs are bytes, never representations
                # Blobs compress poorly, and a gzip sibling lookup on the server is wasted work.
                headers=self.headers,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def budget(self, nbytes: int = 0) -> float:
        return self.timeout + self.per_mib * nbytes / MIB

    async def retrying(
        self, what: str, attempt: Callable[[], Awaitable[T]], *, nbytes: int = 0
    ) -> T:
        """``attempt()`` within its budget, again on a transient failure."""
        delay = 0.1
        for n in range(self.retries + 1):
            try:
                async with asyncio.timeout(self.budget(nbytes)):
                    return await attempt()
            except Transient as exc:
                last: Exception = exc
            except TimeoutError as exc:
                last = Stalled(f"no answer within {self.budget(nbytes):.1f}s ({exc or 'timeout'})")
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                last = exc
            except aiohttp.ClientError as exc:
                raise StorageError(f"{self.name}: {what}: {exc!r}") from exc
            if n < self.retries:
                await asyncio.sleep(delay)
                delay *= 2
        error = Stalled if isinstance(last, Stalled) else StorageError
        raise error(f"{self.name}: {what} failed after {self.retries + 1} attempts: {last}")

    async def paced(
        self,
        chunks: AsyncIterator[bytes],
        deadline: asyncio.Timeout,
        seen: Callable[[bytes], None],
        source_errors: list[BaseException],
    ) -> AsyncIterator[bytes]:
        """An upload body: each chunk must reach the peer within its budget; waiting for the
        next chunk from ``chunks`` (our own source, e.g. the log) is not held against it. An
        error of the source is kept in ``source_errors``: aiohttp would turn it into a
        connection error, and the caller must see the original (e.g. a chunk gone from the log).
        """
        loop = asyncio.get_running_loop()
        iterator = aiter(chunks)
        while True:
            deadline.reschedule(None)
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                break
            except BaseException as exc:
                source_errors.append(exc)
                raise
            seen(chunk)
            deadline.reschedule(loop.time() + self.budget(len(chunk)))
            yield chunk
        deadline.reschedule(loop.time() + self.timeout)  # for the peer's answer

    async def stream(
        self,
        open_: Callable[[], Awaitable[aiohttp.ClientResponse]],
        what: str,
        offset: int,
        length: int | None,
    ) -> AsyncIterator[bytes]:
        """The body of a (possibly ranged) GET. Opening is retried; once bytes flowed, a broken
        stream raises StorageError (the caller has already consumed part of it)."""
        response = await self.retrying(what, open_)
        try:
            if response.status == 416:  # the range starts past the end: nothing, like disk
                return
            # A peer that ignored the Range header sent everything: cut the range out here.
            skip = offset if response.status == 200 else 0
            remaining = length
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                if remaining is not None:
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                if chunk:
                    yield chunk
                if remaining == 0:
                    break
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StorageError(f"{self.name}: {what} broke off: {exc!r}") from exc
        finally:
            response.release()

    @staticmethod
    def range_header(offset: int, length: int | None) -> dict[str, str]:
        if offset == 0 and length is None:
            return {}
        end = "" if length is None else str(offset + length - 1)
        return {"Range": f"bytes={offset}-{end}"}

    def upload_failed(
        self,
        what: str,
        exc: BaseException,
        deadline: asyncio.Timeout,
        source_errors: list[BaseException],
    ) -> NoReturn:
        """Raise what a failed streamed upload means: the source's own error, Stalled, or
        StorageError."""
        if source_errors:
            raise source_errors[0]
        if deadline.expired():
            raise Stalled(f"{self.name}: {what} made no progress within its budget") from None
        raise StorageError(f"{self.name}: {what}: {exc!r}") from exc


def sized_body(data: bytes) -> tuple[bytes | AsyncIterator[memoryview], dict[str, str]]:
    """A request body for bytes in memory, with its Content-Length. aiohttp warns about large
    ``bytes`` bodies; slices of a memoryview send them without a copy (and, with the length
    given, without chunked encoding, which S3 does not accept)."""
    if len(data) <= READ_CHUNK:
        return data, {}

    async def slices() -> AsyncIterator[memoryview]:
        view = memoryview(data)
        for start in range(0, len(view), READ_CHUNK):
            yield view[start : start + READ_CHUNK]

    return slices(), {"Content-Length": str(len(data))}


async def drain(chunks: AsyncIterator[bytes]) -> None:
    async for _ in chunks:
        pass


async def discard(response: aiohttp.ClientResponse) -> None:
    with contextlib.suppress(aiohttp.ClientError):
        await response.read()
