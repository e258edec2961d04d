"""A MyCloud storage node: blobs over HTTP, kept by a ``disk`` sidecar under its data dir.

``mycloud storage-node --data-dir D --port P`` runs it; ``storage/remote.py`` is its client (the
``node`` sidecar kind). Endpoints (all need HTTP Basic with the node's own key and secret):

    PUT    /blobs/{id}          body streamed to disk; ``x-mycloud-sha256`` verified if given
    GET    /blobs/{id}          the bytes (``Range`` honoured, sendfile); HEAD: exists + size
    DELETE /blobs/{id}          204, also when absent
    GET    /blobs/{id}/verify?sha256=HEX   {"ok": bool} after re-reading the bytes
    GET    /healthz             {"ok": bool, "detail": str}; 503 when the disk fails

The node's credentials are its own, not the cloud's root key: a node holds only opaque blobs,
and whoever runs the cloud gives each node a key of its own (spec ``name=node:http://K:S@h:p``).
Errors are JSON problem bodies with a stable ``code``, like the API's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
from aiohttp import web

from storage.base import BlobNotFound, DigestMismatch, StorageError
from storage.disk import BLOB_ID, DiskSidecar

READ_CHUNK = 1024 * 1024
SMALL_BODY = 1024 * 1024  # up to this, read whole and use the group-committed fast path
SHA256 = re.compile(r"^[0-9a-f]{64}$")
STORE: web.AppKey[DiskSidecar] = web.AppKey("store", DiskSidecar)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(status: int, code: str, detail: str, **headers: str) -> web.Response:
    body = {
        "type": f"https://mycloud.dev/errors/{code}",
        "title": code,
        "status": status,
        "code": code,
        "detail": detail,
    }
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


def create_app(store: DiskSidecar, key: str, secret: str) -> web.Application:
    expected = (key.encode(), secret.encode())

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return problem(
                401,
                "Unauthorized",
                "HTTP Basic credentials required",
                **{"WWW-Authenticate": 'Basic realm="mycloud-node"'},
            )
        try:
            given_key, _, given_secret = base64.b64decode(auth[6:], validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return problem(401, "Unauthorized", "malformed Basic credentials")
        # Both compared in full, in constant time: no early exit tells a prober which part failed.
        ok = hmac.compare_digest(given_key, expected[0])
        ok &= hmac.compare_digest(given_secret, expected[1])
        if not ok:
            return problem(403, "Forbidden", "these credentials are not valid for this node")
        blob_id = request.match_info.get("blob_id")
        if blob_id is not None and not BLOB_ID.match(blob_id):
            return problem(400, "InvalidBlobId", f"invalid blob id {blob_id!r}")
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except DigestMismatch as exc:
            return problem(422, "DigestMismatch", str(exc))
        except BlobNotFound as exc:
            return problem(404, "NoSuchBlob", str(exc))
        except (StorageError, OSError) as exc:
            return problem(507, "StorageFailed", str(exc))

    app = web.Application(middlewares=[guard], client_max_size=SMALL_BODY + 1)
    app[STORE] = store
    app.router.add_put("/blobs/{blob_id}", put_blob)
    app.router.add_get("/blobs/{blob_id}", get_blob)  # HEAD too: exists without the body
    app.router.add_delete("/blobs/{blob_id}", delete_blob)
    app.router.add_get("/blobs/{blob_id}/verify", verify_blob)
    app.router.add_get("/healthz", healthz)
    return app


async def put_blob(request: web.Request) -> web.Response:
    store = request.app[STORE]
    blob_id = request.match_info["blob_id"]
    sha256 = request.headers.get("x-mycloud-sha256")
    if sha256 is not None and not SHA256.match(sha256):
        return problem(400, "InvalidDigest", "x-mycloud-sha256 must be 64 lowercase hex digits")
    length = request.content_length
    if length is not None and length <= SMALL_BODY:
        stored = await store.put_bytes(blob_id, await request.read(), sha256=sha256)
    else:
        stored = await store.put(blob_id, _body(request), sha256=sha256)
    return web.json_response({"size": stored.size, "sha256": stored.sha256}, status=201)


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    """The request body in ~1 MiB pieces (the socket hands over 64 KiB or less at a time)."""
    buffer = bytearray()
    async for piece in request.content.iter_chunked(READ_CHUNK):
        buffer += piece
        if len(buffer) >= READ_CHUNK:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def get_blob(request: web.Request) -> web.StreamResponse:
    path = request.app[STORE].path(request.match_info["blob_id"])
    if not await asyncio.to_thread(path.is_file):
        if request.method == "HEAD":
            return web.Response(status=404)
        raise BlobNotFound(f"no blob {path.name}")
    # FileResponse serves Range requests and uses sendfile; blobs never change once written.
    return web.FileResponse(
        path, chunk_size=READ_CHUNK, headers={"Content-Type": "application/octet-stream"}
    )


async def delete_blob(request: web.Request) -> web.Response:
    await request.app[STORE].delete(request.match_info["blob_id"])
    return web.Response(status=204)


async def verify_blob(request: web.Request) -> web.Response:
    sha256 = request.query.get("sha256", "")
    if not SHA256.match(sha256):
        return problem(400, "InvalidDigest", "sha256 must be 64 lowercase hex digits")
    ok = await request.app[STORE].verify(request.match_info["blob_id"], sha256)
    return web.json_response({"ok": ok})


async def healthz(request: web.Request) -> web.Response:
    health = await request.app[STORE].health()
    return web.json_response(
        {"ok": health.ok, "detail": health.detail}, status=200 if health.ok else 503
    )


async def serve(
    data_dir: Path, host: str, port: int, key: str, secret: str, stop: asyncio.Event
) -> None:
    runner = web.AppRunner(
        create_app(DiskSidecar("node", data_dir), key, secret),
        access_log=None,
        handle_signals=False,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(
            f"mycloud storage node on http://{host}:{port} (data {data_dir})",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
    finally:
        await runner.cleanup()


def run(data_dir: Path, host: str, port: int, key: str, secret: str) -> None:
    """Serve until SIGTERM/SIGINT."""

    async def body() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(data_dir, host, port, key, secret, stop)

    try:
        import uvloop

        uvloop.run(body())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        asyncio.run(body())
