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

from api.errors import ApiError
from api.s3 import sigv4
from api.s3 import xml as s3xml
from api.s3.buckets import BUCKET_OPS, list_buckets
from api.s3.objects import OBJECT_OPS
from bus.errors import BusUnavailable
from events.codes import lookup
from events.envelope import new_id
from handlers.s3.rules import key_problem

log = structlog.get_logger("api.s3")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def authenticate(request: web.Request) -> sigv4.Verified:
    keys = request.app["ctx"].keys

    def secret(access_key_id: str) -> str | None:
        key = keys.find(access_key_id)
        return key.secret_access_key if key else None

    path, _, query = request.raw_path.partition("?")
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
    elif isinstance(error, ApiError):
        extra.update(
            {
                k[0].upper() + k[1:]: v
                for k, v in error.extra.items()
                if k in ("key", "bucketName", "argumentName", "argumentValue")
            }
        )
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
    response.headers.setdefault("x-amz-request-id", str(request_id))
    response.headers.setdefault("Server", "MyCloud")
    metrics.observe(
        f"s3:{request.get('op', '?')}",
        request.method,
        response.status,
        time.perf_counter() - started,
    )
    return response


async def dispatch(request: web.Request) -> web.StreamResponse:
    bucket, key = locate(request)
    if sigv4.is_anonymous(request.query, request.headers):
        raise ApiError("AccessDenied", "Anonymous access is not allowed; sign your requests.")
    verified = authenticate(request)
    request["verified"] = verified
    request["actor"] = request.app["ctx"].keys.find(verified.access_key_id).principal
    request["bucket"], request["key"] = bucket, key
    query = request.query
    if bucket is None:
        if request.method == "GET":
            request["op"] = "ListBuckets"
            return await list_buckets(request)
        raise ApiError("MethodNotAllowed", resource="/")
    for method, marker, op, fn in OBJECT_OPS if key is not None else BUCKET_OPS:
        if method == request.method and (
            marker is None or marker in query or marker in request.headers
        ):
            request["op"] = op
            return await fn(request)
    raise ApiError("NotImplemented", f"{request.method} with these parameters is not implemented.")


def build_s3_app(ctx: object, domain: str) -> web.Application:
    app = web.Application(middlewares=[middleware], client_max_size=64 * 1024**2)
    app["ctx"] = ctx
    app["s3_domain"] = domain.lower()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
