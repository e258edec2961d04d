"""The native JSON API: buckets and objects. Writes issue commands; reads query projections."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from aiohttp import web

from api import transfer
from api.authz import authorize
from api.errors import ApiError
from api.gateway import Gateway, Outcome, OutcomeTimeout
from events.s3 import CreateBucket, DeleteBucket, DeleteObject, PutObject
from handlers.s3.rules import bucket_name_problem, key_problem
from iam.s3 import s3_action_for
from projections import queries

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1e6c1e-7d0b-4c5e-9a8e-2f4d8b1c0a77")
MAX_LIST = 1000
META_PREFIX = "x-amz-meta-"


def json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def ctx(request: web.Request) -> Any:
    return request.app["ctx"]


def command_id(request: web.Request) -> uuid.UUID | None:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return None
    if len(key) > 255:
        raise ApiError("InvalidArgument", "Idempotency-Key is at most 255 characters.")
    try:
        return uuid.UUID(key)
    except ValueError:
        return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{request['actor']}:{key}")


async def run(request: web.Request, data: Any, cid: uuid.UUID | None = None) -> Outcome:
    gateway: Gateway = ctx(request).gateway
    try:
        outcome = await gateway.execute(
            data,
            actor=request["actor"],
            service="s3",
            request_id=request["request_id"],
            command_id=cid or command_id(request),
        )
    except OutcomeTimeout as exc:
        raise ApiError(
            "ServiceUnavailable",
            "The command is durable in the log but its outcome is not known yet; retry with the "
            "header Idempotency-Key set to command_id.",
            command_id=exc.command_id,
        ) from None
    if not outcome.ok:
        raise ApiError(
            outcome.code or "InternalError", outcome.message, command_id=outcome.command_id
        )
    return outcome


async def allow(
    request: web.Request, op: str, bucket: str | None = None, key: str | None = None
) -> None:
    """The native API enforces the same policies as S3: each route is an S3 operation."""
    extra = {"s3:prefix": request.query.get("prefix")} if op == "ListObjectsV2" else None
    await authorize(request, s3_action_for(op, bucket, key), bucket=bucket, extra=extra)


def bucket_of(request: web.Request) -> str:
    name = request.match_info["bucket"]
    if bucket_name_problem(name):
        raise ApiError("NoSuchBucket", resource=name)
    return name


def key_of(request: web.Request) -> str:
    """The key from the raw path: percent-decoded strictly, so invalid UTF-8 is refused."""
    raw = request.raw_path.split("?", 1)[0]
    marker = "/objects/"
    raw_key = raw[raw.index(marker) + len(marker) :]
    try:
        key = unquote_to_bytes(raw_key).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("InvalidURI", "Object keys must be valid UTF-8.") from None
    problem = key_problem(key)
    if problem:
        raise ApiError(problem[0], problem[1], resource=key[:64])
    return key


def iso(value: str | datetime) -> str:
    return value if isinstance(value, str) else value.isoformat()


# ---------------------------------------------------------------- buckets


async def create_bucket(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError("MalformedJSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ApiError("InvalidArgument", 'Send a JSON object like {"name": "my-bucket"}.')
    region = body.get("region", "us-east-1")
    if not isinstance(region, str) or not region:
        raise ApiError("InvalidArgument", "region must be a non-empty string.")
    name = body["name"]
    await allow(request, "CreateBucket", name)
    problem = bucket_name_problem(name)
    if problem:
        raise ApiError("InvalidBucketName", problem, resource=name)
    outcome = await run(request, CreateBucket(bucket=name, region=region))
    row = await queries.get_bucket(ctx(request).db, name)
    return json(_bucket(row) if row else {"name": name, "region": region, "seq": outcome.seq}, 201)


def _bucket(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "region": row["region"],
        "owner": row["owner"],
        "created_at": iso(row["created_at"]),
    }


async def list_buckets(request: web.Request) -> web.Response:
    await allow(request, "ListBuckets")
    rows = await queries.list_buckets(ctx(request).db)
    return json({"buckets": [_bucket(r) for r in rows]})


async def get_bucket(request: web.Request) -> web.Response:
    name = bucket_of(request)
    await allow(request, "HeadBucket", name)
    row = await queries.get_bucket(ctx(request).db, name)
    if row is None:
        raise ApiError("NoSuchBucket", resource=name)
    return json(_bucket(row))


async def delete_bucket(request: web.Request) -> web.Response:
    await allow(request, "DeleteBucket", bucket_of(request))
    await run(request, DeleteBucket(bucket=bucket_of(request)))
    return web.Response(status=204)


# ---------------------------------------------------------------- objects


async def put_object(request: web.Request) -> web.Response:
    c = ctx(request)
    bucket, key = bucket_of(request), key_of(request)
    await allow(request, "PutObject", bucket, key)
    cid = command_id(request)
    if cid is not None:
        known = await c.gateway.lookup(str(cid))
        if known is not None:  # a retry of a decided upload: answer without storing again
            return await _put_answer(request, bucket, key, known)
    if await queries.get_bucket(c.db, bucket) is None:
        raise ApiError("NoSuchBucket", resource=bucket)
    metadata = {
        k[len(META_PREFIX) :].lower(): v
        for k, v in request.headers.items()
        if k.lower().startswith(META_PREFIX)
    }
    s = c.settings
    upload = await transfer.receive(
        request, c.bus, inline_max=s.inline_max, chunk_size=s.chunk_size, max_size=s.max_object_size
    )
    command = PutObject(
        bucket=bucket,
        key=key,
        content_type=request.headers.get("Content-Type") or "application/octet-stream",
        metadata=metadata,
        **upload.fields(),
    )
    try:
        outcome = await run(request, command, cid)
    except ApiError as exc:
        if exc.code != "ServiceUnavailable":
            await transfer.discard(c.bus, upload)
        raise
    if outcome.duplicate:  # an earlier try of this upload is the one applied
        await transfer.discard(c.bus, upload)
    return await _put_answer(request, bucket, key, outcome)


async def _put_answer(
    request: web.Request, bucket: str, key: str, outcome: Outcome
) -> web.Response:
    if not outcome.ok:
        raise ApiError(
            outcome.code or "InternalError", outcome.message, command_id=outcome.command_id
        )
    row = await queries.get_object(ctx(request).db, bucket, key)
    body: dict[str, Any] = {"bucket": bucket, "key": key, "seq": outcome.seq}
    headers = {}
    if row is not None and int(row["seq"]) == outcome.seq:
        body.update(etag=row["etag"], size=row["size"], sha256=row["sha256"])
        headers["ETag"] = f'"{row["etag"]}"'
    resp = json(body)
    resp.headers.update(headers)
    return resp


async def get_object(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    bucket, key = bucket_of(request), key_of(request)
    await allow(request, "GetObject", bucket, key)
    row = await queries.get_object(c.db, bucket, key)
    if row is None:
        if await queries.get_bucket(c.db, bucket) is None:
            raise ApiError("NoSuchBucket", resource=bucket)
        raise ApiError("NoSuchKey", resource=key)
    modified = row["last_modified"]
    modified = datetime.fromisoformat(modified) if isinstance(modified, str) else modified
    headers = {
        "ETag": f'"{row["etag"]}"',
        "Last-Modified": transfer.http_date(modified),
        "Accept-Ranges": "bytes",
        "Content-Type": row["content_type"],
        "X-Mycloud-Sha256": row["sha256"],
    }
    for name, value in (row.get("metadata") or {}).items():
        headers[META_PREFIX + name] = value
    status = transfer.check_preconditions(request, row["etag"], modified)
    if status == 412:
        raise ApiError("PreconditionFailed", resource=key)
    if status == 304:
        return web.Response(
            status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"}
        )
    size = int(row["size"])
    byte_range = transfer.parse_range(request.headers.get("Range"), size)
    pieces = await transfer.segments(c.sidecars, row, verify=request.method != "HEAD")
    if pieces is None:
        raise ApiError("ServiceUnavailable", "No replica of this object is reachable right now.")
    return transfer.BlobResponse(pieces, byte_range, size, headers=headers)


async def delete_object(request: web.Request) -> web.Response:
    await allow(request, "DeleteObject", bucket_of(request), key_of(request))
    await run(request, DeleteObject(bucket=bucket_of(request), key=key_of(request)))
    return web.Response(status=204)


async def list_objects(request: web.Request) -> web.Response:
    c = ctx(request)
    bucket = bucket_of(request)
    await allow(request, "ListObjectsV2", bucket)
    if await queries.get_bucket(c.db, bucket) is None:
        raise ApiError("NoSuchBucket", resource=bucket)
    prefix = request.query.get("prefix", "")
    try:
        limit = int(request.query.get("limit", MAX_LIST))
    except ValueError:
        raise ApiError("InvalidArgument", "limit must be an integer.") from None
    if not 1 <= limit <= MAX_LIST:
        raise ApiError("InvalidArgument", f"limit must be between 1 and {MAX_LIST}.")
    start_after = ""
    if cursor := request.query.get("cursor"):
        try:
            start_after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except ValueError:
            raise ApiError("InvalidArgument", "cursor is not one this API gave out.") from None
    rows = await queries.list_objects(
        c.db, bucket, prefix=prefix, start_after=start_after, limit=limit
    )
    truncated = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if truncated:
        next_cursor = base64.urlsafe_b64encode(rows[-1]["key"].encode()).decode().rstrip("=")
    return json(
        {
            "bucket": bucket,
            "prefix": prefix,
            "objects": [
                {
                    "key": r["key"],
                    "size": r["size"],
                    "etag": r["etag"],
                    "last_modified": iso(r["last_modified"]),
                    "content_type": r["content_type"],
                }
                for r in rows
            ],
            "is_truncated": truncated,
            "next_cursor": next_cursor,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/buckets", create_bucket)
    app.router.add_get("/buckets", list_buckets)
    app.router.add_get("/buckets/{bucket}", get_bucket)
    app.router.add_delete("/buckets/{bucket}", delete_bucket)
    app.router.add_get("/buckets/{bucket}/objects", list_objects)
    app.router.add_put("/buckets/{bucket}/objects/{key:.+}", put_object)
    app.router.add_get("/buckets/{bucket}/objects/{key:.+}", get_object)  # GET and HEAD
    app.router.add_delete("/buckets/{bucket}/objects/{key:.+}", delete_object)
