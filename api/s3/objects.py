"""Object-level S3 operations: put, get, head, delete, copy, tagging."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from api import transfer
from api.errors import ApiError
from api.s3 import xml as s3xml
from api.s3.body import execute_upload, receive
from api.s3.bucket_config import ACL_OBJECT_OPS, acl_header_problem
from api.s3.common import (
    ctx,
    execute,
    existing_bucket,
    is_delete_marker,
    version_header,
    when,
    write_conditions,
    written_version,
    xml,
)
from api.s3.uploads import UPLOAD_OPS
from events.s3 import CopyObject, DeleteObject, PutObject, PutObjectTagging
from handlers.s3.rules import bucket_name_problem, key_problem
from projections import queries
from storage.checksums import checksum_type

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


STORAGE_CLASSES = frozenset(
    "STANDARD REDUCED_REDUNDANCY STANDARD_IA ONEZONE_IA INTELLIGENT_TIERING GLACIER DEEP_ARCHIVE "
    "OUTPOSTS GLACIER_IR SNOW EXPRESS_ONEZONE".split()
)
"""What ``x-amz-storage-class`` may say; every class is stored alike here."""


def check_write_headers(headers: Mapping[str, str]) -> None:
    """Refuse what a write asks for that MyCloud cannot honour, with S3's codes: ACLs (see
    bucket_config.py), encryption with KMS or customer keys, an unknown storage class.

    ``x-amz-server-side-encryption: AES256`` (S3-managed keys, what AWS applies to every object
    anyway) is accepted: the bytes are stored as they are, on disks the user controls."""
    if refused := acl_header_problem(headers):
        raise refused
    sse = headers.get("x-amz-server-side-encryption")
    if sse is not None and sse != "AES256":
        if sse in ("aws:kms", "aws:kms:dsse"):
            raise ApiError(
                "NotImplemented", "Server-side encryption with KMS keys is not supported."
            )
        raise ApiError(
            "InvalidArgument",
            "The encryption method specified is not supported",
            argumentName="x-amz-server-side-encryption",
            argumentValue=sse,
        )
    if any(k.lower().startswith("x-amz-server-side-encryption-customer-") for k in headers):
        raise ApiError(
            "NotImplemented", "Server-side encryption with customer-provided keys is not supported."
        )
    storage_class = headers.get("x-amz-storage-class")
    if storage_class is not None and storage_class not in STORAGE_CLASSES:
        raise ApiError("InvalidStorageClass", "The storage class you specified is not valid")


def object_fields(request: web.Request) -> dict[str, Any]:
    """Content-Type, user metadata, stored headers and tags a write carries."""
    return object_fields_of(request.headers)


def object_fields_of(request_headers: Mapping[str, str]) -> dict[str, Any]:
    """``object_fields`` from headers (or the form fields of a POST upload that stand for them;
    case-insensitive names)."""
    headers: dict[str, str] = {}
    for name in STORED_HEADERS:
        value = request_headers.get(name)
        if name == "Content-Encoding" and value:
            value = ",".join(v for v in (p.strip() for p in value.split(",")) if v != "aws-chunked")
        if value:
            headers[name] = value
    return {
        "content_type": request_headers.get("Content-Type") or "binary/octet-stream",
        "metadata": {
            k[len(META) :].lower(): v
            for k, v in request_headers.items()
            if k.lower().startswith(META)
        },
        "headers": headers,
        "tags": parse_tagging_header(request_headers.get("x-amz-tagging")),
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
    check_write_headers(request.headers)
    if_match, if_none_match = write_conditions(request)
    fields = object_fields(request)
    upload, checksums = await receive(request)
    command = PutObject(
        bucket=request["bucket"],
        key=request["key"],
        checksums=checksums,
        if_match=if_match,
        if_none_match=if_none_match,
        **upload.fields(),
        **fields,
    )
    try:
        outcome = await execute_upload(request, command, upload)
    except ApiError as exc:
        if exc.code == "NoSuchKey":  # If-Match on a key with no current object
            exc.extra.setdefault("key", request["key"])
        raise
    headers = {"ETag": f'"{upload.md5}"'}
    versioning = bucket_row["versioning"]
    headers |= version_header(written_version(outcome, versioning), versioning)
    headers |= {f"x-amz-checksum-{a.lower()}": v for a, v in checksums.items()}
    return web.Response(headers=headers)


async def object_version(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bucket row and the object version a GET/HEAD names (or the latest)."""
    bucket_row = await existing_bucket(request)
    db, bucket, key = ctx(request).db, request["bucket"], request["key"]
    version_id = request.query.get("versionId")
    if version_id is not None:
        row = await queries.get_version(db, bucket, key, version_id)
        if row is None:
            raise ApiError("NoSuchVersion", "The specified version does not exist.", key=key)
        if row["is_delete_marker"]:
            request["extra_headers"] = {
                "x-amz-delete-marker": "true",
                "x-amz-version-id": version_id,
                "Last-Modified": transfer.http_date(when(row["last_modified"])),
            }
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
        for algorithm, value in (row.get("checksums") or {}).items():
            headers[f"x-amz-checksum-{algorithm.lower()}"] = value
            headers["x-amz-checksum-type"] = checksum_type(value)
    for param, header in OVERRIDES.items():
        if param in request.query:
            headers[header] = request.query[param]
    return headers


async def get_object(request: web.Request) -> web.StreamResponse:
    bucket_row, row = await object_version(request)
    headers = _headers(request, bucket_row, row)
    status = transfer.check_preconditions(request, row["etag"], when(row["last_modified"]))
    if status == 412:
        raise ApiError(
            "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
        )
    if status == 304:
        # Only validators and caching headers (RFC 9110 15.4.5): a checksum here would make
        # clients verify the empty body against it.
        kept = {"ETag", "Last-Modified", "Cache-Control", "Expires", "x-amz-version-id"}
        return web.Response(status=304, headers={k: v for k, v in headers.items() if k in kept})
    size = int(row["size"])
    if "partNumber" in request.query:
        byte_range = _part_range(request, row)
    else:
        try:
            byte_range = transfer.parse_range(request.headers.get("Range"), size)
        except ApiError as exc:
            exc.extra.setdefault("actual_object_size", size)
            exc.extra["range_requested"] = request.headers.get("Range", "")
            raise
    if byte_range is not None:
        # S3 returns no full-object checksum with a range: it would not match the bytes sent.
        headers = {k: v for k, v in headers.items() if not k.startswith("x-amz-checksum-")}
    pieces = await transfer.segments(ctx(request).sidecars, row, verify=request.method != "HEAD")
    if pieces is None:
        raise ApiError("ServiceUnavailable", "No replica of this object is reachable right now.")
    return transfer.BlobResponse(pieces, byte_range, size, headers=headers)


def _part_range(request: web.Request, row: dict[str, Any]) -> transfer.ByteRange | None:
    """The bytes of part ``partNumber`` of a multipart object; a plain object is one part."""
    raw = request.query["partNumber"]
    if "Range" in request.headers:
        raise ApiError(
            "InvalidRequest", "Cannot specify both Range header and partNumber query parameter."
        )
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise ApiError(
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
            argumentName="partNumber",
            argumentValue=raw,
        )
    sizes = [int(p["size"]) for p in row.get("parts") or []] or [int(row["size"])]
    number = int(raw)
    if number > len(sizes):
        error = ApiError("InvalidPartNumber", "The requested partnumber is not satisfiable")
        error.status = 416  # not (yet) in events/codes.py
        raise error
    start = sum(sizes[: number - 1])
    if not row.get("parts") or sizes[number - 1] == 0:
        return None  # the whole object (or an empty part): a plain 200
    return transfer.ByteRange(start, start + sizes[number - 1] - 1)


async def delete_object(request: web.Request) -> web.Response:
    bucket_row = await existing_bucket(request)
    version_id = request.query.get("versionId")
    was_marker = await is_delete_marker(request, request["key"], version_id)
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
        marker = written_version(outcome, bucket_row["versioning"])
        headers = {"x-amz-delete-marker": "true", "x-amz-version-id": marker}
    elif version_id is not None:
        headers = {"x-amz-version-id": version_id}
        if was_marker:
            headers["x-amz-delete-marker"] = "true"
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


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date header; None when absent or unparseable (S3 then ignores the condition)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def copy_source_checked(
    request: web.Request, bucket: str, key: str, version_id: str | None
) -> dict[str, Any] | None:
    """Evaluate the x-amz-copy-source-if-* conditions against the source as read now, with S3's
    precedence (a true If-Match overrides If-Unmodified-Since, a present If-None-Match overrides
    If-Modified-Since); 412 when they fail. Returns the source row they held for, so the caller
    can pin the copy to it, or None when there were no conditions or no such source (the handler
    answers NoSuchKey / NoSuchVersion)."""
    headers = request.headers
    if_match = headers.get("x-amz-copy-source-if-match")
    if_none_match = headers.get("x-amz-copy-source-if-none-match")
    unmodified = _http_date(headers.get("x-amz-copy-source-if-unmodified-since"))
    modified = _http_date(headers.get("x-amz-copy-source-if-modified-since"))
    if if_match is None and if_none_match is None and unmodified is None and modified is None:
        return None
    db = ctx(request).db
    if version_id is not None:
        row = await queries.get_version(db, bucket, key, version_id)
    else:
        row = await queries.get_object(db, bucket, key)
    if row is None or row.get("is_delete_marker"):
        return None
    etag, last_modified = row["etag"], when(row["last_modified"]).replace(microsecond=0)

    def matches(value: str) -> bool:
        tags = {t.strip().strip('"') for t in value.split(",")}
        return "*" in tags or etag in tags

    held = (
        (matches(if_match) if if_match is not None else True)
        and (if_match is not None or unmodified is None or last_modified <= unmodified)
        and (not matches(if_none_match) if if_none_match is not None else True)
        and (if_none_match is not None or modified is None or last_modified > modified)
    )
    if not held:
        raise ApiError(
            "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
        )
    return row


async def copy_object(request: web.Request) -> web.Response:
    bucket_row = await existing_bucket(request)
    check_write_headers(request.headers)
    dest_if_match, dest_if_none_match = write_conditions(request)
    src_bucket, src_key, src_version = copy_source(request.headers["x-amz-copy-source"])
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    tag_directive = request.headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE") or tag_directive not in ("COPY", "REPLACE"):
        raise ApiError("InvalidArgument", "Unknown metadata or tagging directive.")
    fields = object_fields(request)
    if_match = request.headers.get("x-amz-copy-source-if-match")
    if_none_match = request.headers.get("x-amz-copy-source-if-none-match")
    checked = await copy_source_checked(request, src_bucket, src_key, src_version)
    if checked is not None and if_match is None:
        if_match = f'"{checked["etag"]}"'  # the handler refuses if the source changed since
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
            if_match=if_match,
            if_none_match=if_none_match,
            dest_if_match=dest_if_match,
            dest_if_none_match=dest_if_none_match,
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
    bucket_row, row = await object_version(request)
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
    *ACL_OBJECT_OPS,
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
