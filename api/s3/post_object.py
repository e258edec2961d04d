"""POST Object: uploads from HTML forms (browsers, boto3's ``generate_presigned_post``).

The request is a ``multipart/form-data`` POST to the bucket; instead of signing the request, the
uploader signs a *policy*: a base64 JSON document with an expiration and conditions on the form's
fields (``{"acl": "private"}``, ``["starts-with", "$key", "uploads/"]``,
``["content-length-range", 0, 1048576]``). Checked as S3 checks it, before a byte of the file is
read: the SigV4 signature of the policy, its expiration, every condition, and that every field
of the form is named by a condition. The file then goes into the log like a PutObject body, and
the write is a PutObject command, authorized as ``s3:PutObject`` on the key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from api import transfer
from api.errors import ApiError
from api.s3 import sigv4
from api.s3 import xml as s3xml
from api.s3.body import execute_upload
from api.s3.common import ctx, existing_bucket, version_header, written_version
from api.s3.objects import STORED_HEADERS, check_write_headers, object_fields_of
from events.s3 import PutObject
from handlers.s3.rules import key_problem

FIELDS_MAX = 20 * 1024
"""Bytes of form fields before the file (S3 allows about 20 KB)."""
EXEMPT = frozenset({"x-amz-signature", "file", "policy"})
"""Fields no policy condition needs to name (and ``x-ignore-*``)."""

_HEADER_FIELDS = (
    "x-amz-meta-",
    "x-amz-grant-",
    "x-amz-server-side-encryption",
    "x-amz-storage-",
)
"""Form fields named like the PutObject headers they stand for."""

Authorize = Callable[[web.Request, str, str, str | None], Awaitable[None]]


def is_form_upload(request: web.Request) -> bool:
    return request.method == "POST" and request.content_type == "multipart/form-data"


class Form:
    def __init__(self, fields: dict[str, str], file: BodyPartReader) -> None:
        self.fields = fields
        """The fields before the file, names lower-cased (S3 compares them case-insensitively)."""
        self.file = file

    @property
    def filename(self) -> str:
        return self.file.filename or ""


async def read_form(request: web.Request) -> Form:
    """The fields up to the file, which must come last; the file is left unread."""
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError) as exc:
        raise ApiError("MalformedPOSTRequest", _MALFORMED) from exc
    fields: dict[str, str] = {}
    size = 0
    while True:
        try:
            part = await reader.next()
        except ValueError as exc:
            raise ApiError("MalformedPOSTRequest", _MALFORMED) from exc
        if part is None:
            raise ApiError(
                "InvalidArgument",
                "POST requires exactly one file upload per request.",
                argumentName="file",
                argumentValue="0",
            )
        if not isinstance(part, BodyPartReader) or not part.name:
            raise ApiError("MalformedPOSTRequest", _MALFORMED)
        name = part.name.lower()
        if name == "file":
            return Form(fields, part)
        value = bytearray()
        while chunk := await part.read_chunk(8192):
            value += chunk
            size += len(chunk)
            if size > FIELDS_MAX:
                raise ApiError(
                    "MaxPostPreDataLengthExceededError",
                    "Your POST request fields preceding the upload file were too large.",
                )
        try:
            fields.setdefault(name, value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ApiError("MalformedPOSTRequest", _MALFORMED) from exc


_MALFORMED = "The body of your POST request is not well-formed multipart/form-data."


# ---------------------------------------------------------------- policy


def _denied(why: str) -> ApiError:
    return ApiError("AccessDenied", f"Invalid according to Policy: {why}")


def _invalid(why: str) -> ApiError:
    return ApiError("InvalidPolicyDocument", f"Invalid Policy: {why}")


def decode_policy(policy: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(base64.b64decode(policy, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise _invalid("Invalid JSON.") from exc
    if not isinstance(doc, dict):
        raise _invalid("Invalid JSON.")
    return doc


def check_policy(
    doc: Mapping[str, Any], values: Mapping[str, str], now: datetime
) -> tuple[int, int] | None:
    """Raise unless ``values`` (the form's fields and ``bucket``) satisfy the policy document;
    returns its ``content-length-range`` (the file size checks come once the file is read)."""
    expiration = doc.get("expiration")
    if not isinstance(expiration, str):
        raise _invalid("Policy missing expiration.")
    try:
        expires = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _invalid(f"Invalid 'expiration' value: '{expiration}'") from exc
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if now >= expires:
        raise _denied("Policy expired.")
    conditions = doc.get("conditions")
    if not isinstance(conditions, list):
        raise _invalid("Policy missing conditions.")
    named: set[str] = set()
    length: tuple[int, int] | None = None
    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            ((field, expected),) = condition.items()
            op, name = "eq", str(field).lower()
        elif isinstance(condition, list) and len(condition) == 3 and isinstance(condition[0], str):
            op = condition[0].lower()
            if op == "content-length-range":
                low, high = condition[1], condition[2]
                if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
                    raise _invalid(f"Invalid content-length-range: {condition}")
                length = (low, high)
                continue
            field, expected = condition[1], condition[2]
            if op not in ("eq", "starts-with") or not str(field).startswith("$"):
                raise _invalid(f"Invalid Condition: {orjson.dumps(condition).decode()}")
            name = str(field)[1:].lower()
        else:
            raise _invalid(f"Invalid Simple-Condition: {orjson.dumps(condition).decode()}")
        if not isinstance(expected, str):
            raise _invalid(f"Invalid Condition value: {orjson.dumps(condition).decode()}")
        named.add(name)
        value = values.get(name)
        if op == "eq":
            ok = value == expected
        elif name == "content-type" and value is not None:
            ok = all(v.strip().startswith(expected) for v in value.split(","))
        else:
            ok = expected == "" or (value is not None and value.startswith(expected))
        if not ok:
            shown = orjson.dumps([op, f"${name}", expected]).decode()
            raise _denied(f"Policy Condition failed: {shown}")
    extra = [
        n
        for n in values
        if n not in named and n not in EXEMPT and n != "bucket" and not n.startswith("x-ignore-")
    ]
    if extra:
        raise _denied(f"Extra input fields: {extra[0]}")
    return length


async def _signer(request: web.Request, fields: Mapping[str, str]) -> Any:
    """Who signed the policy (None: an unsigned form, anonymous); raise on a bad signature."""
    policy = fields.get("policy")
    if policy is None:
        if "x-amz-signature" in fields:
            raise ApiError(
                "InvalidArgument", "Bucket POST must contain a field named 'policy'.",
                argumentName="policy", argumentValue="",
            )  # fmt: skip
        return None
    for required in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        if required not in fields:
            raise ApiError(
                "InvalidArgument",
                f"Bucket POST must contain a field named '{required}'.  If it is specified, "
                "please check the order of the fields.",
                argumentName=required,
                argumentValue="",
            )
    if fields["x-amz-algorithm"] != sigv4.ALGORITHM:
        raise ApiError(
            "InvalidArgument",
            "Only AWS4-HMAC-SHA256 is supported for POST uploads.",
            argumentName="x-amz-algorithm",
            argumentValue=fields["x-amz-algorithm"],
        )
    try:
        credential = sigv4.parse_scope(fields["x-amz-credential"])
    except ValueError as exc:
        raise ApiError(
            "InvalidArgument", f"Invalid credential: {exc}",
            argumentName="x-amz-credential", argumentValue=fields["x-amz-credential"],
        ) from None  # fmt: skip
    if fields["x-amz-date"][:8] != credential.date:
        raise ApiError(
            "InvalidArgument", "Invalid credential date. Date is not the same as X-Amz-Date.",
            argumentName="x-amz-date", argumentValue=fields["x-amz-date"],
        )  # fmt: skip
    identity = await ctx(request).identities.lookup(credential.access_key_id)
    if identity is None:
        raise ApiError(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    key = sigv4.signing_key(identity.secret, credential.date, credential.region, credential.service)
    expected = hmac.new(key, policy.encode(), "sha256").hexdigest()
    if not hmac.compare_digest(expected, fields["x-amz-signature"].lower()):
        raise ApiError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    return identity


# ---------------------------------------------------------------- the upload


async def post_object(request: web.Request, authorize: Authorize) -> web.StreamResponse:
    bucket_row = await existing_bucket(request)
    form = await read_form(request)
    fields = form.fields
    identity = await _signer(request, fields)
    length: tuple[int, int] | None = None
    if identity is not None:
        doc = decode_policy(fields["policy"])
        length = check_policy(doc, {**fields, "bucket": request["bucket"]}, datetime.now(UTC))
    raw_key = fields.get("key")
    if not raw_key:
        raise ApiError(
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check "
            "the order of the fields.",
            argumentName="key",
            argumentValue="",
        )
    key = raw_key.replace("${filename}", form.filename)
    if problem := key_problem(key):
        raise ApiError(problem[0], problem[1], key=key)
    request["key"] = key
    request["identity"] = identity
    request["actor"] = identity.principal if identity is not None else "anonymous"
    await authorize(request, "PutObject", request["bucket"], key)
    headers = _headers_of(fields)
    check_write_headers(headers)
    object_fields = object_fields_of(headers)
    if "tagging" in fields:
        object_fields["tags"] = s3xml.parse_tagging(fields["tagging"].encode())
    c = ctx(request)
    low, high = length or (0, c.settings.max_object_size)
    upload = await transfer.receive(
        request,
        c.bus,
        inline_max=c.settings.inline_max,
        chunk_size=c.settings.chunk_size,
        max_size=min(high, c.settings.max_object_size),
        pieces=_file(form.file),
    )
    if upload.size < low:
        await transfer.discard(c.bus, upload)
        raise ApiError(
            "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
        )
    command = PutObject(bucket=request["bucket"], key=key, **upload.fields(), **object_fields)
    outcome = await execute_upload(request, command, upload)
    etag = f'"{upload.md5}"'
    versioning = bucket_row["versioning"]
    answer = {"ETag": etag, **version_header(written_version(outcome, versioning), versioning)}
    location = f"{request.scheme}://{request.host}/{quote(request['bucket'])}/{quote(key)}"
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect:
        query = urlencode({"bucket": request["bucket"], "key": key, "etag": etag})
        target = f"{redirect}{'&' if '?' in redirect else '?'}{query}"
        return web.Response(status=303, headers={**answer, "Location": target})
    status = fields.get("success_action_status", "204")
    answer["Location"] = location
    if status == "201":
        body = s3xml.post_response(location, request["bucket"], key, upload.md5)
        return web.Response(status=201, body=body, content_type="application/xml", headers=answer)
    return web.Response(status=200 if status == "200" else 204, headers=answer)


def _headers_of(fields: Mapping[str, str]) -> CIMultiDict[str]:
    """The form fields that stand for request headers of a PutObject."""
    headers: CIMultiDict[str] = CIMultiDict()
    for name in ("Content-Type", *STORED_HEADERS):
        if name.lower() in fields:
            headers[name] = fields[name.lower()]
    if "acl" in fields:
        headers["x-amz-acl"] = fields["acl"]
    for name, value in fields.items():
        if name.startswith(_HEADER_FIELDS):
            headers[name] = value
    return headers


async def _file(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(256 * 1024):
        yield chunk
