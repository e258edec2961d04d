"""S3 requests for the ``s3`` sidecar: a small AWS Signature Version 4 signer (header auth),
path-style URLs, and the mapping of S3 errors onto storage errors.

Only what a sidecar sends: requests whose path segments and query values it builds itself.
Every header passed in is signed (S3 wants all ``x-amz-*`` headers signed); ``host`` and
``x-amz-date`` are added. The payload hash is the body's SHA-256, or ``UNSIGNED-PAYLOAD`` for a
body that is not hashed ahead of sending.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterable
from typing import Any, NoReturn
from urllib.parse import quote

import aiohttp
from yarl import URL

from storage.base import BlobNotFound, StorageError
from storage.disk import BLOB_ID
from storage.webclient import MIB, Endpoint, HttpSidecar, Transient, sized_body

META_SHA256 = "x-amz-meta-sha256"
PART_SIZE = 8 * MIB  # S3's minimum part is 5 MiB; larger parts would cost memory per upload
XML_VALUE = {name: re.compile(rf"<{name}>([^<]*)</{name}>") for name in ("Code", "UploadId")}
ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def encode(value: str, *, keep_slash: bool = False) -> str:
    """AWS URI encoding: everything but unreserved characters (and '/' in a path)."""
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))


class Signer:
    def __init__(
        self, access_key: str, secret_key: str, region: str = "us-east-1", service: str = "s3"
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.service = service
        self._keys: dict[str, bytes] = {}

    def _signing_key(self, date: str) -> bytes:
        # Derived once per UTC day: four HMACs per request would otherwise add up.
        key = self._keys.get(date)
        if key is None:
            key = ("AWS4" + self.secret_key).encode()
            for part in (date, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {date: key}
        return key

    def sign(
        self,
        method: str,
        host: str,
        path: str,
        query: str,
        headers: dict[str, str],
        payload_hash: str,
        now: float | None = None,
    ) -> dict[str, str]:
        """The headers to send: ``headers`` plus host, x-amz-date, x-amz-content-sha256 and
        Authorization. ``path`` and ``query`` must already be canonically encoded."""
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        signed = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
        signed.update({"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash})
        names = sorted(signed)
        canonical = "\n".join(
            [
                method,
                path,
                query,
                "".join(f"{name}:{signed[name]}\n" for name in names),
                ";".join(names),
                payload_hash,
            ]
        )
        scope = f"{amz_date[:8]}/{self.region}/{self.service}/aws4_request"
        to_sign = "\n".join(
            [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signature = hmac.new(
            self._signing_key(amz_date[:8]), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        signed["authorization"] = (
            f"{ALGORITHM} Credential={self.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return signed


class S3Client(HttpSidecar):
    """Signed requests to one bucket; S3Sidecar (storage/s3.py) builds the interface on it."""

    kind = "s3"

    def __init__(
        self,
        name: str,
        endpoint: Endpoint | str,
        *,
        region: str = "us-east-1",
        part_size: int = PART_SIZE,
        **options: Any,
    ) -> None:
        super().__init__(name, endpoint, **options)
        bucket, _, prefix = self.endpoint.base.path.strip("/").partition("/")
        if not bucket:
            raise ValueError("s3 location needs a bucket: http://KEY:SECRET@host:port/bucket")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.origin = str(self.endpoint.base.origin())
        self.host = self.endpoint.base.host_port_subcomponent or ""
        self.signer = Signer(self.endpoint.key, self.endpoint.secret, region)
        self.part_size = max(part_size, 5 * MIB)
        self._bucket_ready = False

    def _key(self, blob_id: str) -> str:
        if not BLOB_ID.match(blob_id):
            raise StorageError(f"invalid blob id {blob_id!r}")
        return f"{self.prefix}/{blob_id}" if self.prefix else blob_id

    async def _send(
        self,
        method: str,
        key: str | None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | AsyncIterable[bytes] | None = None,
        payload_hash: str = EMPTY_SHA256,
    ) -> aiohttp.ClientResponse:
        path = "/" + encode(self.bucket)
        if key is not None:
            path += "/" + encode(key, keep_slash=True)
        query = canonical_query(params or {})
        signed = self.signer.sign(method, self.host, path, query, headers or {}, payload_hash)
        url = URL(f"{self.origin}{path}" + (f"?{query}" if query else ""), encoded=True)
        data: bytes | AsyncIterable[bytes] | AsyncIterable[memoryview] | None = body
        if isinstance(body, bytes):
            data, length = sized_body(body)
            signed.update(length)  # Content-Length need not be signed
        return await self.session().request(method, url, headers=signed, data=data)

    async def _head(self, key: str) -> tuple[int, str | None] | None:
        """(size, recorded sha256) of an object, or None when there is none."""

        async def attempt() -> tuple[int, str | None] | None:
            async with await self._send("HEAD", key) as response:
                if response.status == 404:
                    return None
                await self._check(response, "head", key)
                return response.content_length or 0, response.headers.get(META_SHA256)

        return await self.retrying(f"head {key}", attempt)

    async def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return

        async def attempt() -> None:
            async with await self._send("HEAD", None) as response:
                if response.status == 200:
                    return
                if response.status != 404:
                    await self._check(response, "head bucket", self.bucket)
            async with await self._send("PUT", None) as response:
                if response.status != 409:  # 409: created meanwhile (by us or a peer)
                    await self._check(response, "create bucket", self.bucket)

        await self.retrying(f"bucket {self.bucket}", attempt)
        self._bucket_ready = True

    async def _check(self, response: aiohttp.ClientResponse, what: str, key: str) -> None:
        if response.status < 300:
            return
        text = "" if response.method == "HEAD" else await response.text(errors="replace")
        self._fail(response.status, xml_value(text, "Code") or f"HTTP {response.status}", what, key)

    def _fail(self, status: int, code: str, what: str, key: str) -> NoReturn:
        detail = f"{self.name}: {what} {key}: {code}"
        if code == "NoSuchBucket":
            self._bucket_ready = False
            raise Transient(detail)  # a retry of a put creates it again
        if status == 404:
            raise BlobNotFound(detail)
        if status in (401, 403):
            raise StorageError(f"{detail} (are the key and secret in the spec right?)")
        if status >= 500 or code in ("XAmzContentSHA256Mismatch", "BadDigest", "RequestTimeout"):
            raise Transient(detail)
        raise StorageError(detail)


def xml_value(text: str, name: str) -> str:
    match = XML_VALUE[name].search(text)
    return match.group(1) if match else ""
