"""Object-level S3 operations: put, get, head, delete, copy, tagging."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from api import transfer
from api.errors import ApiError
from api.s3 import xml as s3xml
from api.s3.body import receive
from api.s3.common import command_version, ctx, execute, existing_bucket, version_header, when, xml
from api.s3.uploads import UPLOAD_OPS
from events.s3 import CopyObject, DeleteObject, PutObject, PutObjectTagging
from handlers.s3.rules import bucket_name_problem, key_problem
from projections import queries

META = "x-amz-meta-"
STORED_HEADERS = (
    "Content-Encoding",
    "Content-Disposition",
    "Cache-Control",
    "Content-Language",
    "Expires",
)
OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def object_fields(request: web.Request) -> dict[str, Any]:
    """Content-Type, user metadata, stored headers and tags a write carries."""
    headers: dict[str, str] = {}
    for name in STORED_HEADERS:
        value = request.headers.get(name)
        if name == "Content-Encoding" and value:
            value = ",".join(v for v in (p.strip() for p in value.split(",")) if v != "aws-chunked")
        if value:
            headers[name] = value
    return {
        "content_type": request.headers.get("Content-Type") or "binary/octet-stream",
        "metadata": {
            k[len(META) :].lower(): v
            for k, v in request.headers.items()
            if k.lower().startswith(META)
        },
        "headers": headers,
        "tags": parse_tagging_header(request.headers.get("x-amz-tagging")),
    }


def parse_tagging_header(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    tags = dict(parse_qsl(value, keep_blank_values=True))
    if len(tags) > 10 or any(len(k) > 128 or len(v) > 256 for k, v in tags.items()):
        raise ApiError("InvalidTag", "Object tags cannot be greater than 10")
    return tags


async def put_object(request: web.Request) -> web.Response:
    bucket_row = await existing_bucket(request)
    fields = object_fields(request)
    upload, checksums = await receive(request)
    command = PutObject(
        bucket=request["bucket"],
        key=request["key"],
        blob_id=upload.blob_id,
        size=upload.size,
        md5=upload.md5,
        sha256=upload.sha256,
        inline=upload.inline,
        chunks=upload.chunks,
        checksums=checksums,
        **fields,
    )
    try:
        outcome = await execute(request, command)
    except ApiError as exc:
        if exc.code != "ServiceUnavailable":
            await transfer.discard(ctx(request).bus, upload)
        raise
    headers = {"ETag": f'"{upload.md5}"'}
    versioned = bucket_row["versioning"] == "Enabled"
    headers |= version_header(
        command_version(outcome) if versioned else "null", bucket_row["versioning"]
    )
    headers |= {f"x-amz-checksum-{a.lower()}": v for a, v in checksums.items()}
    return web.Response(headers=headers)


async def _version(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bucket row and the object version a GET/HEAD names (or the latest)."""
    bucket_row = await existing_bucket(request)
    db, bucket, key = ctx(request).db, request["bucket"], request["key"]
    version_id = request.query.get("versionId")
    if version_id is not None:
        row = await queries.get_version(db, bucket, key, version_id)
        if row is None:
            raise ApiError("NoSuchVersion", "The specified version does not exist.", key=key)
        if row["is_delete_marker"]:
            raise ApiError(
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
                key=key,
            )
        return bucket_row, row
    row = await queries.get_object(db, bucket, key)
    if row is None:
        marker = await queries.latest_version(db, bucket, key) if bucket_row["versioning"] else None
        error = ApiError("NoSuchKey", "The specified key does not exist.", key=key)
        if marker is not None and marker["is_delete_marker"]:
            request["extra_headers"] = {
                "x-amz-delete-marker": "true",
                "x-amz-version-id": marker["version_id"],
            }
        raise error
    return bucket_row, row


def _headers(
    request: web.Request, bucket_row: dict[str, Any], row: dict[str, Any]
) -> dict[str, str]:
    modified = when(row["last_modified"])
    headers = {
        "ETag": f'"{row["etag"]}"',
        "Last-Modified": transfer.http_date(modified),
        "Accept-Ranges": "bytes",
        "Content-Type": row["content_type"],
        **(row.get("headers") or {}),
        **{META + k: v for k, v in (row.get("metadata") or {}).items()},
        **version_header(row["version_id"], bucket_row["versioning"]),
    }
    if row.get("tags"):
        headers["x-amz-tagging-count"] = str(len(row["tags"]))
    if row.get("parts"):
        headers["x-amz-mp-parts-count"] = str(len(row["parts"]))
    if request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        headers |= {
            f"x-amz-checksum-{a.lower()}": v for a, v in (row.get("checksums") or {}).items()
        }
    for param, header in OVERRIDES.items():
        if param in request.query:
            headers[header] = request.query[param]
    return headers


async def get_object(request: web.Request) -> web.StreamResponse:
    try:
        bucket_row, row = await _version(request)
    except ApiError:
        raise
    headers = _headers(request, bucket_row, row)
    status = transfer.check_preconditions(request, row["etag"], when(row["last_modified"]))
    if status == 412:
        raise ApiError(
            "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
        )
    if status == 304:
        return web.Response(
            status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"}
        )
    size = int(row["size"])
    byte_range = transfer.parse_range(request.headers.get("Range"), size)
    pieces = transfer.segments(ctx(request).sidecars, row)
    if pieces is None:
        raise ApiError("ServiceUnavailable", "No replica of this object is reachable right now.")
    return transfer.BlobResponse(pieces, byte_range, size, headers=headers)


async def delete_object(request: web.Request) -> web.Response:
    bucket_row = await existing_bucket(request)
    version_id = request.query.get("versionId")
    try:
        outcome = await execute(
            request,
            DeleteObject(
                bucket=request["bucket"],
                key=request["key"],
                version_id=version_id,
                must_exist=False,
            ),
        )
    except ApiError as exc:
        if exc.code in ("NoSuchKey", "NoSuchVersion"):
            return web.Response(status=204)  # S3 deletes are idempotent
        raise
    headers: dict[str, str] = {}
    if outcome.type == "s3.DeleteMarkerPut":
        marker = command_version(outcome) if bucket_row["versioning"] == "Enabled" else "null"
        headers = {"x-amz-delete-marker": "true", "x-amz-version-id": marker}
    elif version_id is not None:
        headers = {"x-amz-version-id": version_id}
    return web.Response(status=204, headers=headers)


def copy_source(value: str) -> tuple[str, str, str | None]:
    """``/bucket/key?versionId=v`` (leading slash optional, key percent-encoded)."""
    path, _, query = value.partition("?")
    bucket, _, key = unquote(path.lstrip("/")).partition("/")
    version_id = dict(parse_qsl(query)).get("versionId") if query else None
    if not bucket or not key or bucket_name_problem(bucket) or key_problem(key):
        raise ApiError(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            argumentName="x-amz-copy-source",
        )
    return bucket, key, version_id


async def copy_object(request: web.Request) -> web.Response:
    bucket_row = await existing_bucket(request)
    src_bucket, src_key, src_version = copy_source(request.headers["x-amz-copy-source"])
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    tag_directive = request.headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE") or tag_directive not in ("COPY", "REPLACE"):
        raise ApiError("InvalidArgument", "Unknown metadata or tagging directive.")
    fields = object_fields(request)
    outcome = await execute(
        request,
        CopyObject(
            bucket=request["bucket"],
            key=request["key"],
            source_bucket=src_bucket,
            source_key=src_key,
            source_version_id=src_version,
            replace_metadata=directive == "REPLACE",
            content_type=fields["content_type"] if directive == "REPLACE" else None,
            metadata=fields["metadata"],
            headers=fields["headers"],
            replace_tags=tag_directive == "REPLACE",
            tags=fields["tags"],
            if_match=request.headers.get("x-amz-copy-source-if-match"),
            if_none_match=request.headers.get("x-amz-copy-source-if-none-match"),
        ),
    )
    row = await queries.get_object(ctx(request).db, request["bucket"], request["key"])
    if row is None or int(row["seq"]) != outcome.seq:
        row = await queries.latest_version(ctx(request).db, request["bucket"], request["key"])
    assert row is not None
    headers = version_header(row["version_id"], bucket_row["versioning"])
    if src_version:
        headers["x-amz-copy-source-version-id"] = src_version
    return xml(s3xml.copy_object_result(row["etag"], when(row["last_modified"])), headers=headers)


async def get_tagging(request: web.Request) -> web.Response:
    bucket_row, row = await _version(request)
    return xml(
        s3xml.tagging(row.get("tags") or {}),
        headers=version_header(row["version_id"], bucket_row["versioning"]),
    )


async def put_tagging(request: web.Request) -> web.Response:
    tags = s3xml.parse_tagging(await request.read())
    return await _set_tags(request, tags, 200)


async def delete_tagging(request: web.Request) -> web.Response:
    return await _set_tags(request, {}, 204)


async def _set_tags(request: web.Request, tags: dict[str, str], status: int) -> web.Response:
    bucket_row = await existing_bucket(request)
    version_id = request.query.get("versionId")
    await execute(
        request,
        PutObjectTagging(
            bucket=request["bucket"], key=request["key"], version_id=version_id, tags=tags
        ),
    )
    return web.Response(status=status, headers=version_header(version_id, bucket_row["versioning"]))


OBJECT_OPS: list[tuple[str, str | None, str, Any]] = [
    ("PUT", "tagging", "PutObjectTagging", put_tagging),
    *UPLOAD_OPS,
    ("PUT", "x-amz-copy-source", "CopyObject", copy_object),
    ("PUT", None, "PutObject", put_object),
    ("GET", "tagging", "GetObjectTagging", get_tagging),
    ("GET", None, "GetObject", get_object),
    ("HEAD", None, "HeadObject", get_object),
    ("DELETE", "tagging", "DeleteObjectTagging", delete_tagging),
    ("DELETE", None, "DeleteObject", delete_object),
]
