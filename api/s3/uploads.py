"""Multipart uploads: create, upload (or copy) parts, list parts, complete, abort."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from api.errors import ApiError
from api.s3 import xml as s3xml
from api.s3.checksums import check_given, requested
from api.s3.common import (
    ctx,
    encoding_type,
    execute,
    existing_bucket,
    int_param,
    owner,
    version_header,
    when,
    write_conditions,
    xml,
)
from api.s3.listing import TOP, roll_up
from events.envelope import new_id
from events.s3 import (
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CreateMultipartUpload,
    UploadPart,
)
from projections import queries
from projections.db import Reader, Row
from storage import checksums as mpu

_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


async def _open_upload(request: web.Request) -> dict[str, Any]:
    upload_id = request.query["uploadId"]
    row = await queries.get_upload(ctx(request).db, request["bucket"], upload_id)
    if row is None or row["key"] != request["key"]:
        raise ApiError(
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be "
            "invalid, or the upload may have been aborted or completed.",
        )
    return row


async def create(request: web.Request) -> web.Response:
    from api.s3.objects import check_write_headers, object_fields

    await existing_bucket(request)
    check_write_headers(request.headers)
    upload_id = new_id().hex
    algorithm, kind = _checksum_settings(request)
    await execute(
        request,
        CreateMultipartUpload(
            bucket=request["bucket"],
            key=request["key"],
            upload_id=upload_id,
            checksum_algorithm=algorithm,
            checksum_type=kind,
            **object_fields(request),
        ),
    )
    headers = {}
    if algorithm is not None:
        headers["x-amz-checksum-algorithm"] = algorithm
        headers["x-amz-checksum-type"] = kind or mpu.default_type(algorithm)
    return xml(
        s3xml.initiate_multipart(request["bucket"], request["key"], upload_id), headers=headers
    )


def _checksum_settings(request: web.Request) -> tuple[str | None, str | None]:
    """The upload's checksum algorithm and type (x-amz-checksum-algorithm, -type), checked
    against what S3 allows: CRC64NVME only whole-object, SHA-1/SHA-256 only composite."""
    raw_algorithm = request.headers.get("x-amz-checksum-algorithm")
    raw_kind = request.headers.get("x-amz-checksum-type")
    algorithm = raw_algorithm.upper() if raw_algorithm else None
    kind = raw_kind.upper() if raw_kind else None
    if algorithm is not None and algorithm not in mpu.TYPES:
        raise ApiError("InvalidRequest", "Checksum algorithm provided is unsupported.")
    if kind is None:
        return algorithm, None
    if kind not in (mpu.COMPOSITE, mpu.FULL_OBJECT):
        raise ApiError("InvalidRequest", f"Value for x-amz-checksum-type is invalid: {raw_kind}")
    if algorithm is None:
        raise ApiError(
            "InvalidRequest",
            "The x-amz-checksum-type header can only be used with the "
            "x-amz-checksum-algorithm header.",
        )
    if kind not in mpu.TYPES[algorithm]:
        raise ApiError(
            "InvalidRequest",
            f"The {kind} checksum type cannot be used with the {algorithm.lower()} checksum "
            "algorithm.",
        )
    return algorithm, kind


def _part_number(request: web.Request) -> int:
    raw = request.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise ApiError(
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
            argumentName="partNumber",
            argumentValue=raw,
        )
    return int(raw)


async def upload_part(request: web.Request) -> web.Response:
    if "x-amz-copy-source" in request.headers:
        return await upload_part_copy(request)
    from api.s3.body import execute_upload, receive

    number = _part_number(request)
    row = await _open_upload(request)
    upload, values = await receive(request, also=row.get("checksum_algorithm"))
    part = UploadPart(
        bucket=request["bucket"],
        key=request["key"],
        upload_id=request.query["uploadId"],
        part_number=number,
        checksums=values,
        **upload.fields(),
    )
    await execute_upload(request, part, upload)
    headers = {"ETag": f'"{upload.md5}"'}
    headers |= {f"x-amz-checksum-{a.lower()}": v for a, v in values.items()}
    return web.Response(headers=headers)


async def upload_part_copy(request: web.Request) -> web.Response:
    from api.s3.objects import copy_source, copy_source_checked

    number = _part_number(request)
    await _open_upload(request)
    bucket, key, version_id = copy_source(request.headers["x-amz-copy-source"])
    checked = await copy_source_checked(request, bucket, key, version_id)
    if checked is not None:
        version_id = checked["version_id"]  # copy exactly the version the conditions held for
    source: dict[str, Any] = {"bucket": bucket, "key": key, "version_id": version_id}
    wanted = request.headers.get("x-amz-copy-source-range")
    if wanted:
        match = _RANGE.match(wanted.strip())
        if not match or int(match[1]) > int(match[2]):
            raise ApiError(
                "InvalidArgument",
                "The x-amz-copy-source-range value must be of the "
                "form bytes=first-last where first and last are the zero-based offsets "
                "of the first and last bytes to copy",
                argumentName="x-amz-copy-source-range",
                argumentValue=wanted,
            )
        source |= {"start": int(match[1]), "end": int(match[2])}
    upload_id = request.query["uploadId"]
    await execute(
        request,
        UploadPart(
            bucket=request["bucket"],
            key=request["key"],
            upload_id=upload_id,
            part_number=number,
            blob_id=new_id().hex,
            size=0,
            md5="",
            sha256="",
            copy_source=source,
        ),
    )
    parts = await queries.list_parts(
        ctx(request).db, request["bucket"], upload_id, after=number - 1, limit=1
    )
    part = parts[0]
    return xml(s3xml.copy_part_result(part["etag"], when(part["last_modified"])))


async def list_parts(request: web.Request) -> web.Response:
    row = await _open_upload(request)
    marker = int_param(request, "part-number-marker", 0, 0, 10000)
    max_parts = int_param(request, "max-parts", 1000, 0, 1000)
    parts = await queries.list_parts(
        ctx(request).db, request["bucket"], row["upload_id"], after=marker, limit=max_parts
    )
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    return xml(
        s3xml.list_parts(
            bucket=request["bucket"],
            key=request["key"],
            upload_id=row["upload_id"],
            part_number_marker=marker,
            next_part_number_marker=parts[-1]["part_number"] if parts else None,
            max_parts=max_parts,
            is_truncated=truncated,
            parts=[
                s3xml.PartEntry(
                    part_number=p["part_number"],
                    last_modified=when(p["last_modified"]),
                    etag=p["etag"],
                    size=int(p["size"]),
                    checksums=p["checksums"] or {},
                )
                for p in parts
            ],
            owner=owner(row["initiator"]),
            initiator=owner(row["initiator"]),
        )
    )


async def _check_part_checksums(
    request: web.Request, upload_id: str, parts: list[tuple[int, str, dict[str, str]]]
) -> None:
    """Checksums a CompleteMultipartUpload names for its parts must be the ones the parts were
    uploaded with (S3: InvalidPart). Parts not uploaded are left to the handler."""
    if not any(checksums for _, _, checksums in parts):
        return
    rows = await queries.list_parts(ctx(request).db, request["bucket"], upload_id, limit=10000)
    stored = {int(r["part_number"]): r["checksums"] or {} for r in rows}
    for number, _, checksums in parts:
        have = stored.get(number, {})
        for algorithm, value in checksums.items():
            if algorithm in have and have[algorithm] != value:
                raise ApiError(
                    "InvalidPart",
                    f"One or more of the specified parts could not be found or its checksum "
                    f"did not match: part {number}, {algorithm}.",
                )


async def complete(request: web.Request) -> web.Response:
    bucket_row = await existing_bucket(request)
    if_match, if_none_match = write_conditions(request)
    parts = s3xml.parse_complete_multipart(await request.read())
    upload_id = request.query["uploadId"]
    await _check_part_checksums(request, upload_id, parts)
    _, expected = requested(request.headers)
    check_given(expected)
    try:
        outcome = await execute(
            request,
            CompleteMultipartUpload(
                bucket=request["bucket"],
                key=request["key"],
                upload_id=upload_id,
                parts=[(n, etag) for n, etag, _ in parts],
                if_match=if_match,
                if_none_match=if_none_match,
                checksums=expected,
            ),
        )
    except ApiError as exc:
        if exc.code == "NoSuchKey":  # If-Match on a key with no current object
            exc.extra.setdefault("key", request["key"])
        raise
    row = await queries.get_object(ctx(request).db, request["bucket"], request["key"])
    etag = row["etag"] if row is not None and int(row["seq"]) == outcome.seq else ""
    if not etag:
        latest = await queries.latest_version(ctx(request).db, request["bucket"], request["key"])
        etag = latest["etag"] if latest else ""
        row = latest
    location = f"{request.scheme}://{request.host}/{request['bucket']}/{request['key']}"
    headers = version_header(row["version_id"] if row else None, bucket_row["versioning"])
    values = (row.get("checksums") or {}) if row else {}
    kind = mpu.checksum_type(next(iter(values.values()))) if values else None
    return xml(
        s3xml.complete_multipart(location, request["bucket"], request["key"], etag, values, kind),
        headers=headers,
    )


async def abort(request: web.Request) -> web.Response:
    await existing_bucket(request)
    await execute(
        request,
        AbortMultipartUpload(
            bucket=request["bucket"], key=request["key"], upload_id=request.query["uploadId"]
        ),
    )
    return web.Response(status=204)


# ---------------------------------------------------------------- ListMultipartUploads


@dataclass
class UploadsPage:
    uploads: list[Row] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_key_marker: str = ""
    """The last key or common prefix returned: where the next page starts after."""
    next_upload_id_marker: str = ""
    """The last upload returned (empty when the page ends on a common prefix)."""


async def uploads_page(
    db: Reader,
    bucket: str,
    *,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    upload_id_marker: str = "",
    max_uploads: int = 1000,
) -> UploadsPage:
    """Uploads in progress in (key, upload id) order, S3's way: those whose key goes on past
    ``prefix`` to a ``delimiter`` roll up into one common prefix each; uploads and common prefixes
    together count against ``max_uploads``. Listing starts after ``key_marker`` (after its uploads
    up to ``upload_id_marker`` when that is given, else after all of them; a marker inside a
    rolled-up prefix: after the whole prefix)."""
    after = (key_marker, upload_id_marker if key_marker and upload_id_marker else TOP)

    async def fetch(cursor: tuple[str, str], limit: int) -> list[Row]:
        return await queries.list_uploads(
            db,
            bucket,
            prefix=prefix,
            key_marker=cursor[0],
            upload_id_marker=cursor[1],
            limit=limit,
        )

    got = await roll_up(
        fetch,
        prefix=prefix,
        delimiter=delimiter,
        after=after,
        limit=max_uploads,
        tiebreak=lambda row: str(row["upload_id"]),
    )
    return UploadsPage(
        uploads=got.rows,
        prefixes=got.prefixes,
        truncated=got.truncated,
        next_key_marker=got.last[0],
        next_upload_id_marker=got.last[1],
    )


async def list_uploads(request: web.Request) -> web.Response:
    await existing_bucket(request)
    q = request.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_uploads = int_param(request, "max-uploads", 1000, 1, 1000)
    page = await uploads_page(
        ctx(request).db,
        request["bucket"],
        prefix=prefix,
        delimiter=delimiter,
        key_marker=q.get("key-marker", ""),
        upload_id_marker=q.get("upload-id-marker", ""),
        max_uploads=max_uploads,
    )
    return xml(
        s3xml.list_multipart_uploads(
            bucket=request["bucket"],
            prefix=prefix,
            delimiter=delimiter or None,
            key_marker=q.get("key-marker"),
            upload_id_marker=q.get("upload-id-marker"),
            next_key_marker=page.next_key_marker if page.truncated else None,
            next_upload_id_marker=page.next_upload_id_marker if page.truncated else None,
            max_uploads=max_uploads,
            is_truncated=page.truncated,
            uploads=[
                s3xml.UploadEntry(
                    key=r["key"],
                    upload_id=r["upload_id"],
                    initiated=when(r["initiated"]),
                    owner=owner(r["initiator"]),
                    initiator=owner(r["initiator"]),
                )
                for r in page.uploads
            ],
            common_prefixes=page.prefixes,
            encoding_type=encoding_type(request),
        )
    )


UPLOAD_OPS: list[tuple[str, str | None, str, Any]] = [
    ("PUT", "uploadId", "UploadPart", upload_part),
    ("GET", "uploadId", "ListParts", list_parts),
    ("DELETE", "uploadId", "AbortMultipartUpload", abort),
    ("POST", "uploads", "CreateMultipartUpload", create),
    ("POST", "uploadId", "CompleteMultipartUpload", complete),
]
