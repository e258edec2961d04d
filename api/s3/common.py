"""Pieces every S3 operation uses: running a command, owners, XML responses, parameters."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.errors import ApiError
from api.gateway import Gateway, Outcome, OutcomeTimeout
from api.s3.xml import Owner
from events.envelope import Message
from projections import queries

XML = "application/xml"


def ctx(request: web.Request) -> Any:
    return request.app["ctx"]


def owner(principal: str) -> Owner:
    return Owner(hashlib.sha256(principal.encode()).hexdigest(), principal)


def xml(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type=XML, headers=headers)


def when(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


async def execute(request: web.Request, data: Message) -> Outcome:
    gateway: Gateway = ctx(request).gateway
    try:
        outcome = await gateway.execute(
            data, actor=request["actor"], service="s3", request_id=request["request_id"]
        )
    except OutcomeTimeout as exc:
        raise ApiError(
            "ServiceUnavailable",
            f"The request is durable but not yet applied (command {exc.command_id}); retry.",
        ) from None
    if not outcome.ok:
        raise ApiError(outcome.code or "InternalError", outcome.message)
    return outcome


async def existing_bucket(request: web.Request) -> dict[str, Any]:
    bucket = request["bucket"]
    row = await queries.get_bucket(ctx(request).db, bucket)
    if row is None:
        raise ApiError(
            "NoSuchBucket", f"The specified bucket does not exist: {bucket}", bucketName=bucket
        )
    return row


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            "InvalidArgument", f"{name} must be an integer.", argumentName=name, argumentValue=raw
        ) from None
    if value < low:
        raise ApiError(
            "InvalidArgument",
            f"{name} must be at least {low}.",
            argumentName=name,
            argumentValue=raw,
        )
    return min(value, high)


def encoding_type(request: web.Request) -> str | None:
    """A listing's ``encoding-type``: only ``url`` exists."""
    value = request.query.get("encoding-type")
    if value not in (None, "url"):
        raise ApiError(
            "InvalidArgument",
            "Invalid Encoding Method specified in Request",
            argumentName="encoding-type",
            argumentValue=value,
        )
    return value


def write_conditions(request: web.Request) -> tuple[str | None, str | None]:
    """``If-Match`` / ``If-None-Match`` of a write (S3's conditional writes), for the command: the
    handler decides them atomically against the log, never the API against a read model. S3
    takes only ``*`` in If-None-Match on a write and answers anything else NotImplemented."""
    if_match = request.headers.get("If-Match")
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise ApiError("NotImplemented", "A conditional write takes only '*' in If-None-Match.")
    return if_match, if_none_match


def version_header(version_id: str | None, versioning: str | None) -> dict[str, str]:
    """S3 names the version only in buckets that have (had) versioning."""
    if versioning is None or version_id is None:
        return {}
    return {"x-amz-version-id": version_id}


def command_version(outcome: Outcome) -> str:
    return uuid.UUID(outcome.command_id).hex


def written_version(outcome: Outcome, versioning: str | None) -> str:
    """The version id a write got (an object put, or the delete marker a DeleteObject put):
    its command's id with versioning on, "null" otherwise."""
    return command_version(outcome) if versioning == "Enabled" else "null"


async def is_delete_marker(request: web.Request, key: str, version_id: str | None) -> bool:
    """Whether ``version_id`` of ``key`` is a delete marker (S3 says so when deleting it)."""
    if version_id is None:
        return False
    row = await queries.get_version(ctx(request).db, request["bucket"], key, version_id)
    return row is not None and bool(row["is_delete_marker"])
