"""A minimal, fast async S3 client for benchmarks: aiohttp + hand-rolled SigV4.

Why not boto3/aioboto3: botocore spends ~1 ms of CPU per request (model loading, event hooks,
retries, checksums). On a 2-core machine that sits next to the server under test, a client that
expensive caps every server at the same few hundred requests/s and hides their differences.
This client does only what the benchmark needs:

* one ``aiohttp.ClientSession`` with a keep-alive pool sized to the benchmark's concurrency;
* path-style URLs (``http://host:port/bucket/key``), region ``us-east-1``, service ``s3``;
* SigV4 header auth signing ``host;x-amz-content-sha256;x-amz-date``, with
  ``x-amz-content-sha256: UNSIGNED-PAYLOAD`` for request bodies (so the body is never hashed on
  the client) -- SeaweedFS, moto and MyCloud all accept it;
* the signing key derived once per UTC day, the ``x-amz-date`` string once per second.

It reports its own CPU cost (``CpuClock``) so a reader can check the client was not the
bottleneck. Not a general S3 library: no retries, no redirects, no virtual-host addressing,
keys must be URL-safe ASCII (the benchmark generates them).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import aiohttp
from yarl import URL

REGION = "us-east-1"
SERVICE = "s3"
UNSIGNED = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SIGNED_HEADERS = "host;x-amz-content-sha256;x-amz-date"
READ_CHUNK = 1 << 20  # 1 MiB: fewer wake-ups per large GET than aiohttp's 64 KiB default


class S3Error(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:300]!r}")
        self.status = status


@dataclass
class CpuClock:
    """CPU seconds this process spent, per request, between ``reset`` and ``per_request``.

    The benchmark process runs only the client (servers are separate processes), so
    ``time.process_time`` deltas are the client's cost."""

    started: float = 0.0
    requests: int = 0

    def reset(self) -> None:
        self.started = time.process_time()
        self.requests = 0

    def seconds(self) -> float:
        return time.process_time() - self.started

    def per_request_us(self) -> float:
        return self.seconds() / self.requests * 1e6 if self.requests else 0.0


class S3Client:
    """``async with S3Client(endpoint, key, secret, concurrency=16) as s3: ...``"""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        concurrency: int = 16,
        region: str = REGION,
        timeout: float = 300.0,
    ) -> None:
        url = URL(endpoint)
        if url.scheme != "http" or not url.host:
            raise ValueError(f"endpoint must be http://host:port, got {endpoint!r}")
        self.endpoint = f"http://{url.host}:{url.port}"
        # The Host header the server sees (aiohttp sends exactly this; we sign the same value).
        self.host = f"{url.host}:{url.port}"
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.concurrency = concurrency
        self.timeout = timeout
        self.cpu = CpuClock()
        self._scope_suffix = f"/{region}/{SERVICE}/aws4_request"
        self._day = ""
        self._signing_key = b""
        self._second = -1
        self._amz_date = ""
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> S3Client:
        connector = aiohttp.TCPConnector(
            # Exactly one connection per worker: no queueing in the pool, no idle extras.
            limit=self.concurrency,
            limit_per_host=self.concurrency,
            keepalive_timeout=60,
            # Loopback IPs only; skip the resolver cache machinery.
            use_dns_cache=False,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            # Servers may gzip nothing we ask for, but never spend CPU checking.
            auto_decompress=False,
            read_bufsize=READ_CHUNK,
            # Fewer default headers to build per request; none of them matter to S3.
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )
        self.cpu.reset()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ signing

    def _now(self) -> tuple[str, str]:
        """(amz_date, day); formatted once per second, not once per request."""
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        return self._amz_date, self._amz_date[:8]

    def _key_for(self, day: str) -> bytes:
        """The SigV4 signing key: four HMACs, valid for one UTC day, so cached per day."""
        if day != self._day:
            k = hmac.new(f"AWS4{self.secret_key}".encode(), day.encode(), hashlib.sha256).digest()
            for part in (self.region, SERVICE, "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._day, self._signing_key = day, k
        return self._signing_key

    def sign(self, method: str, path: str, payload_hash: str) -> dict[str, str]:
        """Headers for a request with an already URI-encoded ``path`` and no query string."""
        amz_date, day = self._now()
        canonical = (
            f"{method}\n{path}\n\n"
            f"host:{self.host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n\n"
            f"{SIGNED_HEADERS}\n{payload_hash}"
        )
        scope = day + self._scope_suffix
        to_sign = (
            f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
            + hashlib.sha256(canonical.encode()).hexdigest()
        )
        signature = hmac.new(self._key_for(day), to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "Host": self.host,
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_hash,
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
            ),
        }

    @staticmethod
    def _path(bucket: str, key: str = "") -> str:
        # S3's canonical URI encodes every byte except unreserved characters; '/' stays.
        return "/" + bucket + ("/" + quote(key, safe="/-_.~") if key else "")

    def _url(self, path: str) -> URL:
        # encoded=True: the path is already canonical; don't let yarl re-quote it per request.
        return URL(self.endpoint + path, encoded=True)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use S3Client as 'async with'")
        return self._session

    # ------------------------------------------------------------ operations

    async def create_bucket(self, bucket: str) -> None:
        """CreateBucket; an already existing bucket owned by us counts as success."""
        path = self._path(bucket)
        headers = self.sign("PUT", path, EMPTY_SHA256)
        headers["Content-Length"] = "0"
        async with self.session.put(self._url(path), headers=headers) as resp:
            body = await resp.read()
            self.cpu.requests += 1
            if resp.status != 200 and b"BucketAlreadyOwnedByYou" not in body:
                raise S3Error("PUT", path, resp.status, body)

    async def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | memoryview | AsyncIterable[bytes | memoryview],
        length: int | None = None,
    ) -> None:
        """PutObject. ``data`` is bytes, or an async iterator of chunks with its total ``length``
        (sent with a Content-Length, never chunked: not every S3 server takes chunked bodies)."""
        path = self._path(bucket, key)
        headers = self.sign("PUT", path, UNSIGNED)
        if isinstance(data, bytes | memoryview):
            headers["Content-Length"] = str(len(data))
            body: bytes | memoryview | AsyncIterable[bytes | memoryview] = data
        else:
            if length is None:
                raise ValueError("an async iterator body needs its length")
            headers["Content-Length"] = str(length)
            body = data
        async with self.session.put(self._url(path), data=body, headers=headers) as resp:
            # Drain the (tiny) response so the connection goes back to the pool.
            payload = await resp.read()
            self.cpu.requests += 1
            if resp.status != 200:
                raise S3Error("PUT", path, resp.status, payload)

    async def get_object(self, bucket: str, key: str) -> int:
        """GetObject; reads and discards the body, returns its size in bytes."""
        path = self._path(bucket, key)
        headers = self.sign("GET", path, EMPTY_SHA256)
        async with self.session.get(self._url(path), headers=headers) as resp:
            if resp.status != 200:
                body = await resp.read()
                self.cpu.requests += 1
                raise S3Error("GET", path, resp.status, body)
            size = 0
            if resp.content_length is not None and resp.content_length <= READ_CHUNK:
                # Small objects: one read, one bytes object; cheapest path through aiohttp.
                size = len(await resp.read())
            else:
                async for chunk in resp.content.iter_any():
                    size += len(chunk)
            self.cpu.requests += 1
            return size


async def chunks(
    buf: bytes | memoryview, chunk: int = READ_CHUNK
) -> AsyncIterator[bytes | memoryview]:
    """An async iterator over ``buf`` in ``chunk``-sized zero-copy slices (a streamed body)."""
    view = memoryview(buf)
    for i in range(0, len(view), chunk):
        yield view[i : i + chunk]


# ---------------------------------------------------------------- null server (calibration)


class _NullHTTP(asyncio.Protocol):
    """Answers every HTTP/1.1 request at once: 200 with ``GET_BODY`` for GET, empty otherwise.

    The benchmark runs it in a separate process to measure what the client alone can do."""

    GET_BODY = b"\0" * 4096
    GET_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" + GET_BODY
    OTHER_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; cast, don't check.
        self.transport = cast(asyncio.Transport, transport)
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return  # body still arriving
            self.buf = self.buf[end + 4 + length :]
            get = head.startswith(b"GET ")
            self.transport.write(self.GET_REPLY if get else self.OTHER_REPLY)


async def serve_null(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_NullHTTP, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    # `python bench/s3client.py null-server PORT`: the calibration peer of bench/s3bench.py.
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "null-server":
        sys.exit("usage: s3client.py null-server PORT")
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run  # as the benchmark's client does
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve_null(int(sys.argv[2])))
