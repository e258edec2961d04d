"""Bucket-level S3 operations: create, head, delete, settings, listings, batch delete."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from aiohttp import web

from api.authz import authorize
from api.errors import ApiError
from api.s3 import xml as s3xml
from api.s3.bucket_config import CONFIG_BUCKET_OPS, acl_header_problem
from api.s3.common import (
    ctx,
    encoding_type,
    execute,
    existing_bucket,
    int_param,
    is_delete_marker,
    owner,
    when,
    written_version,
    xml,
)
from api.s3.listing import walk
from api.s3.uploads import list_uploads
from events.s3 import (
    CreateBucket,
    DeleteBucket,
    DeleteObject,
    PutBucketCors,
    PutBucketPolicy,
    PutBucketTagging,
    PutBucketVersioning,
)
from handlers.s3.rules import bucket_name_problem
from iam.s3 import s3_action_for
from projections import queries


async def list_buckets(request: web.Request) -> web.Response:
    rows = await queries.list_buckets(ctx(request).db)
    me = owner(request["actor"])
    return xml(
        s3xml.list_buckets(
            me.id, me.display_name, [(r["name"], when(r["created_at"])) for r in rows]
        )
    )


async def create_bucket(request: web.Request) -> web.Response:
    bucket = request["bucket"]
    problem = bucket_name_problem(bucket)
    if problem:
        raise ApiError("InvalidBucketName", problem, bucketName=bucket)
    acl_problem = acl_header_problem(request.headers, create_bucket=True)
    if acl_problem is not None:
        raise acl_problem
    region = s3xml.parse_create_bucket(await request.read()) or "us-east-1"
    try:
        await execute(request, CreateBucket(bucket=bucket, region=region))
    except ApiError as exc:
        if exc.code != "BucketAlreadyOwnedByYou" or region != "us-east-1":
            raise
        # S3's legacy us-east-1 behaviour: re-creating a bucket you own there succeeds (and
        # changes nothing); every other region answers 409 BucketAlreadyOwnedByYou.
        row = await queries.get_bucket(ctx(request).db, bucket)
        if row is None or row["region"] != "us-east-1":
            raise
    return web.Response(headers={"Location": f"/{bucket}"})


async def head_bucket(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    return web.Response(headers={"x-amz-bucket-region": row["region"]})


async def delete_bucket(request: web.Request) -> web.Response:
    await execute(request, DeleteBucket(bucket=request["bucket"]))
    return web.Response(status=204)


async def get_location(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    return xml(s3xml.location(row["region"]))


async def get_versioning(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    return xml(s3xml.versioning(row["versioning"]))


async def put_versioning(request: web.Request) -> web.Response:
    status = s3xml.parse_versioning(await request.read())
    await execute(request, PutBucketVersioning(bucket=request["bucket"], status=status))
    return web.Response()


async def get_policy(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    if not row.get("policy"):
        raise ApiError(
            "NoSuchBucketPolicy", "The bucket policy does not exist", bucketName=request["bucket"]
        )
    return web.Response(body=row["policy"].encode(), content_type="application/json")


async def put_policy(request: web.Request) -> web.Response:
    from iam.errors import LimitExceeded, PolicyError
    from iam.policy import parse_policy

    await existing_bucket(request)
    document = (await request.read()).decode("utf-8", "replace")
    try:
        parse_policy(document, kind="resource", bucket=request["bucket"])
    except LimitExceeded as exc:
        raise ApiError("MalformedPolicy", str(exc)) from None
    except PolicyError as exc:
        raise ApiError("MalformedPolicy", str(exc)) from None
    await execute(request, PutBucketPolicy(bucket=request["bucket"], document=document))
    return web.Response(status=204)


async def delete_policy(request: web.Request) -> web.Response:
    await existing_bucket(request)
    await execute(request, PutBucketPolicy(bucket=request["bucket"], document=None))
    return web.Response(status=204)


async def get_tagging(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    if not row["tags"]:
        raise ApiError("NoSuchTagSet", bucketName=request["bucket"])
    return xml(s3xml.tagging(row["tags"]))


async def put_tagging(request: web.Request) -> web.Response:
    await existing_bucket(request)
    tags = s3xml.parse_tagging(await request.read(), bucket=True)
    await execute(request, PutBucketTagging(bucket=request["bucket"], tags=tags))
    return web.Response(status=204)


async def delete_tagging(request: web.Request) -> web.Response:
    await existing_bucket(request)
    await execute(request, PutBucketTagging(bucket=request["bucket"], tags={}))
    return web.Response(status=204)


async def get_cors(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    if not row["cors"]:
        raise ApiError("NoSuchCORSConfiguration", bucketName=request["bucket"])
    rules = [
        s3xml.CorsRule(
            allowed_methods=tuple(r["allowed_methods"]),
            allowed_origins=tuple(r["allowed_origins"]),
            allowed_headers=tuple(r.get("allowed_headers") or ()),
            expose_headers=tuple(r.get("expose_headers") or ()),
            max_age_seconds=r.get("max_age_seconds"),
            id=r.get("id"),
        )
        for r in row["cors"]
    ]
    return xml(s3xml.cors(rules))


async def put_cors(request: web.Request) -> web.Response:
    rules = s3xml.parse_cors(await request.read())
    stored = [
        {
            "allowed_methods": list(r.allowed_methods),
            "allowed_origins": list(r.allowed_origins),
            "allowed_headers": list(r.allowed_headers),
            "expose_headers": list(r.expose_headers),
            "max_age_seconds": r.max_age_seconds,
            "id": r.id,
        }
        for r in rules
    ]
    await execute(request, PutBucketCors(bucket=request["bucket"], rules=stored))
    return web.Response()


async def delete_cors(request: web.Request) -> web.Response:
    await execute(request, PutBucketCors(bucket=request["bucket"], rules=[]))
    return web.Response(status=204)


def _entry(row: dict[str, Any], with_owner: bool, principal: str) -> s3xml.ObjectEntry:
    algorithms = sorted(row.get("checksums") or {})
    return s3xml.ObjectEntry(
        key=row["key"],
        last_modified=when(row["last_modified"]),
        etag=row["etag"],
        size=int(row["size"]),
        owner=owner(principal) if with_owner else None,
        checksum_algorithm=algorithms[0] if algorithms else None,
    )


async def list_objects_v2(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    q = request.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_keys = int_param(request, "max-keys", 1000, 0, 1000)
    token = q.get("continuation-token")
    start_after = q.get("start-after", "")
    cursor = start_after
    if token is not None:
        try:
            cursor = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ApiError(
                "InvalidArgument",
                "The continuation token provided is incorrect",
                argumentName="continuation-token",
            ) from None
    page = await walk(
        ctx(request).db,
        request["bucket"],
        prefix=prefix,
        delimiter=delimiter,
        start_after=cursor,
        max_keys=max_keys,
    )
    next_token = base64.urlsafe_b64encode(page.last.encode()).decode() if page.truncated else None
    fetch_owner = q.get("fetch-owner", "false").lower() == "true"
    return xml(
        s3xml.list_objects_v2(
            bucket=row["name"],
            prefix=prefix,
            delimiter=delimiter or None,
            max_keys=max_keys,
            encoding_type=encoding_type(request),
            start_after=start_after or None,
            continuation_token=token,
            next_continuation_token=next_token,
            key_count=len(page.contents) + len(page.prefixes),
            is_truncated=page.truncated,
            contents=[_entry(r, fetch_owner, row["owner"]) for r in page.contents],
            common_prefixes=page.prefixes,
            fetch_owner=fetch_owner,
        )
    )


async def list_objects_v1(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    q = request.query
    prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
    max_keys = int_param(request, "max-keys", 1000, 0, 1000)
    page = await walk(
        ctx(request).db,
        request["bucket"],
        prefix=prefix,
        delimiter=delimiter,
        start_after=marker,
        max_keys=max_keys,
    )
    return xml(
        s3xml.list_objects_v1(
            bucket=row["name"],
            prefix=prefix,
            delimiter=delimiter or None,
            marker=marker,
            next_marker=page.last if page.truncated and delimiter else None,
            max_keys=max_keys,
            encoding_type=encoding_type(request),
            is_truncated=page.truncated,
            contents=[_entry(r, True, row["owner"]) for r in page.contents],
            common_prefixes=page.prefixes,
        )
    )


async def list_object_versions(request: web.Request) -> web.Response:
    row = await existing_bucket(request)
    db, bucket, q = ctx(request).db, request["bucket"], request.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, vid_marker = q.get("key-marker", ""), q.get("version-id-marker") or None
    max_keys = int_param(request, "max-keys", 1000, 0, 1000)
    after_seq = None
    if vid_marker:
        marked = await queries.get_version(db, bucket, key_marker, vid_marker)
        if marked is None:
            raise ApiError(
                "InvalidArgument",
                "Invalid version id specified",
                argumentName="version-id-marker",
                argumentValue=vid_marker,
            )
        after_seq = int(marked["seq"])
    rows = await queries.list_versions(
        db, bucket, prefix=prefix, key_marker=key_marker, after_seq=after_seq, limit=max_keys + 1000
    )
    entries: list[s3xml.VersionEntry] = []
    prefixes: list[str] = []
    truncated, last_key, last_vid = False, "", ""
    me = owner(row["owner"])
    for v in rows:
        if len(entries) + len(prefixes) >= max_keys:
            truncated = True
            break
        cut = v["key"].find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = v["key"][: cut + len(delimiter)]
            if common not in prefixes:
                prefixes.append(common)
            continue
        entries.append(
            s3xml.VersionEntry(
                key=v["key"],
                version_id=v["version_id"],
                is_latest=v["is_latest"],
                last_modified=when(v["last_modified"]),
                etag=None if v["is_delete_marker"] else v["etag"],
                size=None if v["is_delete_marker"] else int(v["size"]),
                is_delete_marker=v["is_delete_marker"],
                owner=me,
            )
        )
        last_key, last_vid = v["key"], v["version_id"]
    return xml(
        s3xml.list_object_versions(
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter or None,
            key_marker=key_marker,
            version_id_marker=vid_marker,
            next_key_marker=last_key if truncated else None,
            next_version_id_marker=last_vid if truncated else None,
            max_keys=max_keys,
            encoding_type=encoding_type(request),
            is_truncated=truncated,
            versions=entries,
            common_prefixes=prefixes,
        )
    )


async def delete_objects(request: web.Request) -> web.Response:
    bucket_row = await existing_bucket(request)
    targets, quiet = s3xml.parse_delete(await request.read())
    bucket = request["bucket"]
    slots = asyncio.Semaphore(32)

    async def one(key: str, version_id: str | None) -> tuple[str, str | None, bool, Any]:
        async with slots:
            was_marker = await is_delete_marker(request, key, version_id)
            try:
                await authorize(
                    request,
                    s3_action_for("DeleteObjects", bucket, keys=[(key, version_id)]),
                    bucket=bucket,
                )
                outcome = await execute(
                    request,
                    DeleteObject(bucket=bucket, key=key, version_id=version_id, must_exist=False),
                )
                return key, version_id, was_marker, outcome
            except ApiError as exc:
                return key, version_id, was_marker, exc

    deleted: list[tuple[str, str | None, bool, str | None]] = []
    errors: list[tuple[str, str | None, str, str]] = []
    for key, version_id, was_marker, result in await asyncio.gather(
        *(one(k, v) for k, v in targets)
    ):
        if isinstance(result, ApiError) and result.code not in ("NoSuchKey", "NoSuchVersion"):
            errors.append((key, version_id, result.code, result.message))
        elif isinstance(result, ApiError):
            deleted.append((key, version_id, False, None))
        elif result.type == "s3.DeleteMarkerPut":
            marker = written_version(result, bucket_row["versioning"])
            deleted.append((key, version_id, True, marker))
        else:  # a version deleted for good; S3 says whether it was a delete marker
            deleted.append((key, version_id, was_marker, version_id if was_marker else None))
    return xml(s3xml.delete_result(deleted=deleted, errors=errors, quiet=quiet))


ListOps = list[tuple[str, str | None, str, Any]]
BUCKET_OPS: ListOps = [
    *CONFIG_BUCKET_OPS,
    ("GET", "location", "GetBucketLocation", get_location),
    ("GET", "versioning", "GetBucketVersioning", get_versioning),
    ("GET", "cors", "GetBucketCors", get_cors),
    ("GET", "tagging", "GetBucketTagging", get_tagging),
    ("PUT", "tagging", "PutBucketTagging", put_tagging),
    ("DELETE", "tagging", "DeleteBucketTagging", delete_tagging),
    ("GET", "versions", "ListObjectVersions", list_object_versions),
    ("GET", "uploads", "ListMultipartUploads", list_uploads),
    ("GET", "list-type", "ListObjectsV2", list_objects_v2),
    ("GET", None, "ListObjects", list_objects_v1),
    ("GET", "policy", "GetBucketPolicy", get_policy),
    ("PUT", "policy", "PutBucketPolicy", put_policy),
    ("DELETE", "policy", "DeleteBucketPolicy", delete_policy),
    ("PUT", "versioning", "PutBucketVersioning", put_versioning),
    ("PUT", "cors", "PutBucketCors", put_cors),
    ("PUT", None, "CreateBucket", create_bucket),
    ("HEAD", None, "HeadBucket", head_bucket),
    ("DELETE", "cors", "DeleteBucketCors", delete_cors),
    ("DELETE", None, "DeleteBucket", delete_bucket),
    ("POST", "delete", "DeleteObjects", delete_objects),
]
