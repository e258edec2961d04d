"""Request bodies of S3 writes: plain or aws-chunked, checked against every digest the client
sent (Content-MD5, x-amz-content-sha256, x-amz-checksum-* headers or trailers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from api import transfer
from api.errors import ApiError
from api.gateway import Outcome
from api.s3 import sigv4
from api.s3.checksums import Checksummer, UnsupportedChecksum, check_given, requested
from api.s3.chunked import ChunkedDecoder
from api.s3.common import ctx, execute
from events.envelope import Message


async def receive(
    request: web.Request, *, also: str | None = None
) -> tuple[transfer.Upload, dict[str, str]]:
    """Stream the body into the log; returns the upload and its verified checksums (with
    ``also``, that algorithm's too, whether or not the client sent a value for it)."""
    c = ctx(request)
    verified: sigv4.Verified = request["verified"]
    algorithms, given = requested(request.headers)
    if also is not None and algorithms and also not in algorithms:
        # S3 refuses a part checksummed with another algorithm than its upload's.
        raise ApiError(
            "InvalidRequest",
            f"Checksum Type mismatch occurred, expected checksum Type: {also.lower()}, actual "
            f"checksum Type: {min(algorithms).lower()}",
        )
    if also is not None:
        algorithms.add(also)
    try:
        checker = Checksummer(algorithms)
    except UnsupportedChecksum as exc:
        raise ApiError("InvalidRequest", f"Unsupported checksum algorithm: {exc}") from None
    check_given(given)
    mode = request.headers.get("x-amz-content-sha256", "")
    decoder: ChunkedDecoder | None = None
    pieces: AsyncIterator[bytes] | None = None
    declared: int | None = None
    if mode.startswith("STREAMING-"):
        decoder = ChunkedDecoder.from_headers(
            verified if mode != sigv4.STREAMING_UNSIGNED_TRAILER else None, request.headers
        )
        length = request.headers.get("x-amz-decoded-content-length")
        if length is None:
            raise ApiError("MissingContentLength", "x-amz-decoded-content-length is required.")
        declared = int(length)
        pieces = _decoded(request, decoder)
    s = c.settings
    upload = await transfer.receive(
        request,
        c.bus,
        inline_max=s.inline_max,
        chunk_size=s.chunk_size,
        max_size=s.max_object_size,
        pieces=pieces,
        declared=declared,
        observe=checker.update,
    )
    try:
        if decoder is None:
            sigv4.check_payload(verified, upload.sha256)
        else:
            for name, value in decoder.finish().items():
                if name.lower().startswith("x-amz-checksum-"):
                    given[name.lower()[len("x-amz-checksum-") :].upper()] = value
        bad = checker.mismatch(given)
        if bad is not None:
            raise ApiError(
                "BadDigest", f"The {bad} you specified did not match the calculated checksum."
            )
    except (ApiError, sigv4.SigV4Error):
        await transfer.discard(c.bus, upload)
        raise
    return upload, checker.values()


async def execute_upload(
    request: web.Request, command: Message, upload: transfer.Upload
) -> Outcome:
    """Issue a command that carries an upload's bytes; when it is refused, the bytes are dropped
    from the log (not on ServiceUnavailable: the command may still be applied)."""
    try:
        return await execute(request, command)
    except ApiError as exc:
        if exc.code != "ServiceUnavailable":
            await transfer.discard(ctx(request).bus, upload)
        raise


async def _decoded(request: web.Request, decoder: ChunkedDecoder) -> AsyncIterator[bytes]:
    async for raw in request.content.iter_chunked(256 * 1024):
        for piece in decoder.feed(raw):
            yield piece
