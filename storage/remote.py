"""The ``node`` sidecar: blobs on a remote MyCloud storage node (storage/node.py) over HTTP.

Spec: ``name=node:http://KEY:SECRET@host:port`` — the node's own key and secret, sent as HTTP
Basic. One aiohttp session per sidecar; uploads and downloads are streamed. The node verifies
``x-mycloud-sha256`` before a blob becomes visible, so a mismatch stores nothing there either.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import aiohttp
import orjson

from storage.base import BlobNotFound, DigestMismatch, Health, StorageError, Stored
from storage.disk import BLOB_ID
from storage.webclient import Endpoint, HttpSidecar, Transient, discard, sized_body

SHA256_HEADER = "x-mycloud-sha256"


class NodeSidecar(HttpSidecar):
    kind = "node"

    def __init__(self, name: str, endpoint: Endpoint | str, **options: Any) -> None:
        super().__init__(name, endpoint, **options)
        # Built by hand: aiohttp.BasicAuth is deprecated, its replacement too new to rely on.
        basic = base64.b64encode(f"{self.endpoint.key}:{self.endpoint.secret}".encode()).decode()
        self.headers["Authorization"] = f"Basic {basic}"

    def _url(self, blob_id: str, suffix: str = "") -> str:
        if not BLOB_ID.match(blob_id):
            raise StorageError(f"invalid blob id {blob_id!r}")
        return str(self.endpoint.base / "blobs" / blob_id) + suffix

    async def put(
        self, blob_id: str, chunks: AsyncIterator[bytes], *, sha256: str | None = None
    ) -> Stored:
        url = self._url(blob_id)
        digest = hashlib.sha256()
        headers = {SHA256_HEADER: sha256} if sha256 else {}
        deadline = asyncio.timeout(None)
        source_errors: list[BaseException] = []
        try:
            async with deadline:
                # With a digest given the node checks it; without, we check what it computed.
                seen = digest.update if sha256 is None else _ignore
                body = self.paced(chunks, deadline, seen, source_errors)
                async with self.session().put(url, data=body, headers=headers) as response:
                    answer = await self._answer(response, "put", blob_id)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.upload_failed(f"put {blob_id}", exc, deadline, source_errors)
        if sha256 is None and answer["sha256"] != digest.hexdigest():
            # Changed in transit: what the node holds is not what we sent.
            await self.delete(blob_id)
            raise DigestMismatch(f"{self.name}: blob {blob_id} arrived with another digest")
        return Stored(size=int(answer["size"]), sha256=str(answer["sha256"]))

    async def put_bytes(self, blob_id: str, data: bytes, *, sha256: str | None = None) -> Stored:
        got = hashlib.sha256(data).hexdigest()
        if sha256 is not None and got != sha256:
            raise DigestMismatch(f"{self.name}: blob {blob_id} sha256 {got} != {sha256}")
        url = self._url(blob_id)

        async def attempt() -> dict[str, Any]:
            body, length = sized_body(data)
            headers = {SHA256_HEADER: got, **length}
            async with self.session().put(url, data=body, headers=headers) as r:
                return await self._answer(r, "put", blob_id)

        answer = await self.retrying(f"put {blob_id}", attempt, nbytes=len(data))
        return Stored(size=int(answer["size"]), sha256=got)

    def get(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        url = self._url(blob_id)
        headers = self.range_header(offset, length)

        async def open_() -> aiohttp.ClientResponse:
            response = await self.session().get(url, headers=headers)
            if response.status not in (200, 206, 416):
                try:
                    await self._answer(response, "get", blob_id)
                finally:
                    response.release()
            return response

        return (
            self._empty() if length == 0 else self.stream(open_, f"get {blob_id}", offset, length)
        )

    async def _empty(self) -> AsyncIterator[bytes]:
        return
        yield  # an async generator that yields nothing

    async def delete(self, blob_id: str) -> None:
        url = self._url(blob_id)

        async def attempt() -> None:
            async with self.session().delete(url) as response:
                await self._answer(response, "delete", blob_id)

        await self.retrying(f"delete {blob_id}", attempt)

    async def exists(self, blob_id: str) -> bool:
        return await self._size(blob_id) is not None

    async def _size(self, blob_id: str) -> int | None:
        url = self._url(blob_id)

        async def attempt() -> int | None:
            async with self.session().head(url) as response:
                if response.status == 404:
                    return None
                await self._answer(response, "exists", blob_id)
                return response.content_length or 0

        return await self.retrying(f"exists {blob_id}", attempt)

    async def verify(self, blob_id: str, sha256: str) -> bool:
        size = await self._size(blob_id)
        if size is None:
            return False
        url = self._url(blob_id, "/verify")
        # The node re-reads the whole blob before it answers anything, so the socket is quiet
        # for as long as that takes: no read timeout, a budget by the blob's size instead.
        quiet = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=None)

        async def attempt() -> bool:
            async with self.session().get(
                url, params={"sha256": sha256}, timeout=quiet
            ) as response:
                return bool((await self._answer(response, "verify", blob_id))["ok"])

        return await self.retrying(f"verify {blob_id}", attempt, nbytes=size)

    async def health(self) -> Health:
        url = str(self.endpoint.base / "healthz")

        async def attempt() -> Health:
            async with self.session().get(url) as response:
                if response.status == 503:
                    detail = (await response.json(loads=orjson.loads)).get("detail", "")
                    return Health(ok=False, detail=f"{self.endpoint.base}: {detail}")
                answer = await self._answer(response, "health", "")
                return Health(ok=True, detail=f"{self.endpoint.base}: {answer.get('detail')}")

        try:
            return await self.retrying("health", attempt)
        except StorageError as exc:
            return Health(ok=False, detail=str(exc))

    async def _answer(
        self, response: aiohttp.ClientResponse, what: str, blob_id: str
    ) -> dict[str, Any]:
        """The JSON answer of a 2xx; otherwise the matching StorageError."""
        if response.status < 300:
            if response.status == 204 or response.method == "HEAD":
                return {}
            answer: dict[str, Any] = orjson.loads(await response.read())
            return answer
        self._raise(response.status, await _problem(response), what, blob_id)

    def _raise(self, status: int, problem: dict[str, str], what: str, blob_id: str) -> NoReturn:
        detail = f"{self.name}: {what} {blob_id}: HTTP {status} {problem.get('detail', '')}"
        if status == 404:
            raise BlobNotFound(detail)
        if problem.get("code") == "DigestMismatch":
            raise DigestMismatch(detail)
        if status in (401, 403):
            raise StorageError(f"{self.name}: the node rejected our credentials (HTTP {status})")
        if status >= 500:
            raise Transient(detail)
        raise StorageError(detail)


async def _problem(response: aiohttp.ClientResponse) -> dict[str, str]:
    if response.method == "HEAD":
        return {}
    try:
        body = orjson.loads(await response.read())
        return body if isinstance(body, dict) else {}
    except (orjson.JSONDecodeError, aiohttp.ClientError):
        await discard(response)
        return {}


def _ignore(_: bytes) -> None:
    pass
