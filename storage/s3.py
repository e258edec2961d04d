"""The ``s3`` sidecar: blobs as objects ``<prefix>/<blob_id>`` in a bucket of any S3-compatible
store (MinIO, SeaweedFS, AWS), for backup or off-site replicas.

Spec: ``name=s3:http://KEY:SECRET@host:port/bucket[/prefix][?region=us-east-1]``. Path-style
requests, SigV4 header auth (storage/s3client.py); the bucket is created on first use if missing.

Uploads. S3 needs each request's length up front, but ``put`` receives a stream of unknown
length, so it reads up to ``part_size`` (8 MiB) into memory: a blob that ends there is one PUT
whose body SHA-256 is signed, so the store itself rejects bytes damaged in transit. A longer blob
becomes a multipart upload of ``part_size`` parts (UNSIGNED-PAYLOAD), one part uploading while
the next is read: memory stays at two parts per upload, whatever the blob's size. The digest is
checked before CompleteMultipartUpload; on a mismatch or any failure the upload is aborted, so
nothing becomes visible. Each object records its digest as ``x-amz-meta-sha256``.

``verify`` compares that recorded digest (reading a whole remote object back for every check
would cost a full download); an object without one is downloaded and hashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator

import aiohttp

from storage.base import DigestMismatch, Health, StorageError, Stored
from storage.s3client import META_SHA256, UNSIGNED, S3Client, xml_value
from storage.webclient import MIB, Transient, drain


class S3Sidecar(S3Client):
    kind = "s3"

    # ------------------------------------------------------------------ the interface

    async def put(
        self, blob_id: str, chunks: AsyncIterator[bytes], *, sha256: str | None = None
    ) -> Stored:
        key = self._key(blob_id)
        source = aiter(chunks)
        first, more = await self._fill(source)
        if not more:
            return await self.put_bytes(blob_id, first, sha256=sha256)
        await self._ensure_bucket()
        if sha256 is not None and (found := await self._head(key)) and found[1] == sha256:
            await drain(source)  # already there (a redelivery): keep it, as disk does
            return Stored(size=found[0], sha256=sha256)
        return await self._multipart(key, first, source, sha256)

    async def put_bytes(self, blob_id: str, data: bytes, *, sha256: str | None = None) -> Stored:
        key = self._key(blob_id)
        got = await _digest(data)
        if sha256 is not None and got != sha256:
            raise DigestMismatch(f"{self.name}: blob {blob_id} sha256 {got} != {sha256}")
        await self._ensure_bucket()
        headers = {META_SHA256: got, "content-type": "application/octet-stream"}

        async def attempt() -> None:
            async with await self._send(
                "PUT", key, headers=headers, body=data, payload_hash=got
            ) as response:
                await self._check(response, "put", blob_id)

        await self.retrying(f"put {blob_id}", attempt, nbytes=len(data))
        return Stored(size=len(data), sha256=got)

    def get(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        key = self._key(blob_id)
        headers = self.range_header(offset, length)

        async def open_() -> aiohttp.ClientResponse:
            response = await self._send(
                "GET", key, headers={k.lower(): v for k, v in headers.items()}
            )
            if response.status not in (200, 206, 416):
                async with response:
                    await self._check(response, "get", blob_id)
            return response

        return _nothing() if length == 0 else self.stream(open_, f"get {blob_id}", offset, length)

    async def delete(self, blob_id: str) -> None:
        key = self._key(blob_id)

        async def attempt() -> None:
            async with await self._send("DELETE", key) as response:
                if response.status != 404:
                    await self._check(response, "delete", blob_id)

        await self.retrying(f"delete {blob_id}", attempt)

    async def exists(self, blob_id: str) -> bool:
        return await self._head(self._key(blob_id)) is not None

    async def verify(self, blob_id: str, sha256: str) -> bool:
        found = await self._head(self._key(blob_id))
        if found is None:
            return False
        if found[1] is not None:
            return found[1] == sha256
        digest = hashlib.sha256()
        async for chunk in self.get(blob_id):
            digest.update(chunk)
        return digest.hexdigest() == sha256

    async def health(self) -> Health:
        where = f"{self.origin}/{self.bucket}/{self.prefix}".rstrip("/")
        try:
            self._bucket_ready = False  # look again: the bucket may be gone
            await self._ensure_bucket()
        except StorageError as exc:
            return Health(ok=False, detail=f"{where}: {exc}")
        return Health(ok=True, detail=where)

    # ------------------------------------------------------------------ multipart

    async def _multipart(
        self, key: str, first: bytes, source: AsyncIterator[bytes], sha256: str | None
    ) -> Stored:
        headers = {META_SHA256: sha256} if sha256 else {}
        async with await self._send(
            "POST", key, params={"uploads": ""}, headers=headers
        ) as response:
            await self._check(response, "create upload", key)
            upload_id = xml_value(await response.text(), "UploadId")
        digest = hashlib.sha256()
        size, etags = 0, []
        pending: asyncio.Task[str] | None = None
        try:
            part, more = first, True
            while part:
                hashing = asyncio.create_task(asyncio.to_thread(digest.update, part))
                if pending is not None:
                    etags.append(await pending)
                pending = asyncio.create_task(
                    self._upload_part(key, upload_id, len(etags) + 1, part)
                )
                await hashing
                size += len(part)
                part, more = await self._fill(source) if more else (b"", False)
            if pending is not None:
                etags.append(await pending)
            got = digest.hexdigest()
            if sha256 is not None and got != sha256:
                raise DigestMismatch(f"{self.name}: {key} sha256 {got} != {sha256}")
            await self._complete(key, upload_id, etags)
        except BaseException:
            if pending is not None:
                # Let the part in flight finish rather than cancel it half-sent: a cancelled
                # request leaves its connection closing with bytes still buffered, a socket that
                # outlives the session (and the event loop) when nothing drains it.
                with contextlib.suppress(BaseException):
                    await asyncio.shield(pending)
            await asyncio.shield(self._abort(key, upload_id))
            raise
        return Stored(size=size, sha256=got)

    async def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        params = {"partNumber": str(number), "uploadId": upload_id}

        async def attempt() -> str:
            async with await self._send(
                "PUT", key, params=params, body=data, payload_hash=UNSIGNED
            ) as response:
                await self._check(response, f"part {number}", key)
                return response.headers.get("ETag", "")

        return await self.retrying(f"part {number} of {key}", attempt, nbytes=len(data))

    async def _complete(self, key: str, upload_id: str, etags: list[str]) -> None:
        body = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            for n, etag in enumerate(etags, 1)
        )
        data = f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode()

        async def attempt() -> None:
            async with await self._send(
                "POST",
                key,
                params={"uploadId": upload_id},
                body=data,
                payload_hash=hashlib.sha256(data).hexdigest(),
            ) as r:
                await self._check(r, "complete upload", key)
                text = await r.text()  # S3 may answer 200 and still report an <Error>
                if "<Error>" in text:
                    raise Transient(f"{self.name}: complete {key}: {xml_value(text, 'Code')}")

        await self.retrying(f"complete {key}", attempt)

    async def _abort(self, key: str, upload_id: str) -> None:
        try:
            async with await self._send("DELETE", key, params={"uploadId": upload_id}):
                pass
        except (aiohttp.ClientError, TimeoutError):
            pass  # best effort: a bucket lifecycle rule reaps abandoned uploads

    # ------------------------------------------------------------------ requests

    async def _fill(self, source: AsyncIterator[bytes]) -> tuple[bytes, bool]:
        """Up to a part's worth of the source; the flag says whether more may follow."""
        pieces, size = [], 0
        async for chunk in source:
            pieces.append(chunk)
            size += len(chunk)
            if size >= self.part_size:
                return b"".join(pieces), True
        return b"".join(pieces), False


async def _digest(data: bytes) -> str:
    if len(data) < MIB:
        return hashlib.sha256(data).hexdigest()
    return await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing
