"""The S3 REST endpoint (``--aws-port``): addressing, SigV4 authentication, dispatch, XML errors.

Path-style (``/bucket/key``) and virtual-hosted-style (``bucket.localhost:port/key``) requests
both work. Every write is a command through the same gateway as the native API; every read is a
projection query. The credential scope's service routes requests, so IAM/STS can join later.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

import structlog
from aiohttp import web

from api.authz import authorize
from api.errors import ApiError
from api.s3 import cors, post_object, sigv4
from api.s3 import xml as s3xml
from api.s3.buckets import BUCKET_OPS, list_buckets
from api.s3.objects import OBJECT_OPS
from bus.errors import BusUnavailable
from events.codes import lookup
from events.envelope import new_id
from handlers.s3.rules import key_problem
from iam.s3 import s3_action_for

log = structlog.get_logger("api.s3")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SUBRESOURCES = frozenset(
    """accelerate acl analytics attributes cors delete encryption intelligent-tiering inventory
    legal-hold lifecycle location logging metadataConfiguration metadataTable metrics notification
    object-lock ownershipControls policy policyStatus publicAccessBlock replication requestPayment
    restore retention select session tagging torrent uploadId uploads versioning versions
    website""".split()
)
"""Query parameters that name an S3 subresource; a request naming one that has no route here
is answered NotImplemented."""


ERROR_FIELDS = {
    "key": "Key",
    "bucketName": "BucketName",
    "argumentName": "ArgumentName",
    "argumentValue": "ArgumentValue",
    "actual_object_size": "ActualObjectSize",
    "range_requested": "RangeRequested",
    "method": "Method",
    "resource_type": "ResourceType",
}
"""ApiError extras that S3 error documents carry, by their XML element name."""


def locate(request: web.Request) -> tuple[str | None, str | None]:
    """(bucket, key) from the Host header (virtual-hosted style) or the path (path style)."""
    raw = request.raw_path.split("?", 1)[0]
    host = (request.host or "").rsplit(":", 1)[0].lower()
    domain = request.app["s3_domain"]
    bucket: str | None = None
    if domain and host.endswith("." + domain):
        bucket = host[: -len(domain) - 1]
        path = raw[1:]
    else:
        first, _, rest = raw[1:].partition("/")
        bucket = _decode(first) if first else None
        path = rest if bucket is not None else ""
    if not path:
        return bucket or None, None
    key = _decode(path)
    problem = key_problem(key)
    if problem:
        raise ApiError(problem[0], problem[1], resource=raw)
    return bucket, key


def _decode(raw: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("InvalidURI", "Couldn't parse the specified URI.") from None


async def authenticate(request: web.Request) -> sigv4.Verified:
    """Verify the signature; ``request["identity"]`` is who signed it."""
    path, _, query = request.raw_path.partition("?")
    key_id = sigv4.access_key_of(request.query, request.headers)
    identity = await request.app["ctx"].identities.lookup(key_id) if key_id else None
    request["identity"] = identity

    def secret(access_key_id: str) -> str | None:
        return identity.secret if identity and identity.access_key_id == access_key_id else None

    return sigv4.verify(request.method, path, query, request.headers, secret)


def xml_error(
    request: web.Request, error: ApiError | sigv4.SigV4Error | s3xml.S3XmlError
) -> web.Response:
    code = error.code
    message = getattr(error, "message", str(error))
    status = error.status if isinstance(error, ApiError) else lookup(code).status
    if lookup(code).name != code and not isinstance(error, ApiError):
        status = 400
    extra: dict[str, object] = {}
    if isinstance(error, sigv4.SigV4Error):
        extra.update(error.details)
    elif isinstance(error, s3xml.S3XmlError):
        extra.update(error.extra)
    else:
        extra.update({ERROR_FIELDS[k]: v for k, v in error.extra.items() if k in ERROR_FIELDS})
    request_id = str(request.get("request_id", ""))
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
    headers.update(request.get("extra_headers") or {})
    if code in ("SlowDown", "ServiceUnavailable"):
        headers["Retry-After"] = "1"
    if request.method == "HEAD":
        return web.Response(status=status, headers=headers)
    body = s3xml.error(code, message, request.path, request_id, **extra)
    return web.Response(status=status, body=body, content_type="application/xml", headers=headers)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = new_id()
    request["request_id"] = request_id
    metrics = request.app["ctx"].metrics
    started = time.perf_counter()
    try:
        response = await handler(request)
    except (ApiError, sigv4.SigV4Error, s3xml.S3XmlError) as exc:
        response = xml_error(request, exc)
    except BusUnavailable as exc:
        response = xml_error(request, ApiError("ServiceUnavailable", f"Please retry: {exc}"))
    except web.HTTPException as exc:
        response = xml_error(request, ApiError("InvalidRequest", exc.reason))
    except Exception:
        log.exception("s3.unhandled", path=request.path, method=request.method)
        response = xml_error(request, ApiError("InternalError"))
    if "Origin" in request.headers and request.method != "OPTIONS":
        await _cors_headers(request, response)
    response.headers.setdefault("x-amz-request-id", str(request_id))
    response.headers.setdefault("Server", "MyCloud")
    metrics.observe(
        f"s3:{request.get('op', '?')}",
        request.method,
        response.status,
        time.perf_counter() - started,
    )
    return response


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """A cross-origin request to a bucket gets the CORS headers of the rule it matches, whether
    it succeeded or not (so the page can read S3's error)."""
    try:
        bucket = request["bucket"] if "bucket" in request else locate(request)[0]
        if bucket is not None:
            await cors.decorate(request, response, bucket)
    except ApiError:
        pass  # an unparsable path names no bucket
    except Exception:
        log.exception("s3.cors_headers", path=request.path, method=request.method)


async def dispatch(request: web.Request) -> web.StreamResponse:
    if request.method == "OPTIONS":
        # A CORS preflight: browsers send it without credentials, so it is answered before (and
        # without) authentication, from the bucket's CORS configuration alone.
        request["op"] = "PreflightRequest"
        bucket, key = locate(request)
        request["bucket"], request["key"] = bucket, key
        return await cors.preflight(request, bucket, key)
    query = request.query
    if sigv4.is_anonymous(query, request.headers):
        # Allowed only where a bucket policy grants it to everyone (Principal "*").
        request["identity"], request["actor"], request["verified"] = None, "anonymous", None
    else:
        request["verified"] = await authenticate(request)
        request["actor"] = request["identity"].principal
        service = sigv4.service_of(request.method, request.path, query, request.headers)
        if service in ("iam", "sts"):
            from api.iam.query import handle as iam_handle

            return await iam_handle(request, service)
    bucket, key = locate(request)
    request["bucket"], request["key"] = bucket, key
    if bucket is None:
        if request.method == "GET":
            request["op"] = "ListBuckets"
            await authorize(request, s3_action_for("ListBuckets"))
            return await list_buckets(request)
        raise ApiError("MethodNotAllowed", resource="/")
    # A subresource no route names must not fall through to the plain operation
    # (GET ?acl is not ListObjects, PUT ?policy is not CreateBucket).
    unknown = SUBRESOURCES.intersection(query.keys())
    if key is None and not unknown and post_object.is_form_upload(request):
        request["op"] = "PostObject"  # signed by its policy, in the form: checked there
        return await post_object.post_object(request, authorize_s3)
    for method, marker, op, fn in OBJECT_OPS if key is not None else BUCKET_OPS:
        if method == request.method and (
            (marker is None and not unknown) or marker in query or marker in request.headers
        ):
            request["op"] = op
            await authorize_s3(request, op, bucket, key)
            return await fn(request)
    raise ApiError("NotImplemented", f"{request.method} with these parameters is not implemented.")


async def authorize_s3(request: web.Request, op: str, bucket: str, key: str | None) -> None:
    """The caller must be allowed every (action, resource) the operation needs."""
    if op == "DeleteObjects":
        return  # checked per key by the operation itself
    query = request.query
    source = None
    if op in ("CopyObject", "UploadPart") and "x-amz-copy-source" in request.headers:
        from api.s3.objects import copy_source

        source = copy_source(request.headers["x-amz-copy-source"])
        op = "UploadPartCopy" if op == "UploadPart" else op
    permissions = s3_action_for(op, bucket, key, version_id=query.get("versionId"), source=source)
    extra = {
        "s3:prefix": query.get("prefix"),
        "s3:delimiter": query.get("delimiter"),
        "s3:max-keys": query.get("max-keys"),
    }
    await authorize(request, permissions, bucket=bucket, extra=extra)


def build_s3_app(ctx: object, domain: str) -> web.Application:
    # Content-Encoding of an S3 PUT describes the stored object; it must not be undone on the way
    # in (aiohttp decompresses gzip/deflate request bodies unless told not to).
    app = web.Application(
        middlewares=[middleware],
        client_max_size=64 * 1024**2,
        handler_args={"auto_decompress": False},
    )
    app["ctx"] = ctx
    app["s3_domain"] = domain.lower()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
