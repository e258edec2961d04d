"""Applying a bucket's CORS configuration: preflight (``OPTIONS``) answers and the
``Access-Control-*`` headers of actual cross-origin requests.

The rules are the stored PutBucketCors rules (dicts with ``allowed_origins``,
``allowed_methods``, ``allowed_headers``, ``expose_headers``, ``max_age_seconds``). Matching
follows S3: the first rule whose AllowedOrigin (at most one ``*``), AllowedMethod and
AllowedHeader (at most one ``*`` each, compared case-insensitively) all fit wins.

Error answers follow what S3 sends (as recorded against AWS): ``400 BadRequest`` without an
``Origin``; ``403 AccessForbidden`` with a ``CORSResponse: …`` message when the bucket does not
exist, has no CORS configuration, or no rule matches; ``400 BadRequest`` for a missing or unknown
``Access-Control-Request-Method`` once the bucket has a configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web

from api.errors import ApiError
from api.s3.xml import CORS_METHODS
from projections import queries

Rule = Mapping[str, Any]

METHODS = CORS_METHODS
"""What an AllowedMethod (and so an Access-Control-Request-Method) can be."""

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)
"""S3's message, typo ("evalution") included."""
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_BUCKET = "CORSResponse: Bucket not found"
NO_ORIGIN = "Insufficient information. Origin request header needed."


# ---------------------------------------------------------------- pure matching


def wildcard_match(pattern: str, value: str) -> bool:
    """``pattern`` with at most one ``*`` standing for any run of characters (also none)."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def origin_allowed(patterns: Iterable[str], origin: str) -> str | None:
    """The first AllowedOrigin that lets ``origin`` in (origins compare case-sensitively)."""
    for pattern in patterns:
        if pattern and wildcard_match(pattern, origin):
            return pattern
    return None


def headers_allowed(patterns: Iterable[str], requested: Iterable[str]) -> bool:
    """Every requested header name fits some AllowedHeader, ignoring case."""
    lowered = [p.lower() for p in patterns]
    return all(any(wildcard_match(p, h.lower()) for p in lowered) for h in requested)


def requested_headers(value: str | None) -> list[str]:
    """An ``Access-Control-Request-Headers`` value as lower-case names, in the order sent."""
    if not value:
        return []
    return [name for name in (part.strip().lower() for part in value.split(",")) if name]


def match(
    rules: Sequence[Rule], origin: str, method: str, headers: Sequence[str] = ()
) -> tuple[Rule, str] | None:
    """The first rule allowing ``origin``, ``method`` and every one of ``headers``, and the
    AllowedOrigin that matched; None if no rule does."""
    for rule in rules:
        if method not in rule.get("allowed_methods", ()):
            continue
        pattern = origin_allowed(rule.get("allowed_origins", ()), origin)
        if pattern is None:
            continue
        if headers and not headers_allowed(rule.get("allowed_headers") or (), headers):
            continue
        return rule, pattern
    return None


def response_headers(
    rule: Rule, pattern: str, origin: str, headers: Sequence[str] = ()
) -> dict[str, str]:
    """The ``Access-Control-*`` headers S3 sends for a matched rule.

    A rule origin of exactly ``*`` is answered ``*`` (and no credentials); any other is
    answered with the request's origin and ``Access-Control-Allow-Credentials: true``.
    ``headers`` (the requested ones, for a preflight) become ``Access-Control-Allow-Headers``.
    """
    out = {"Access-Control-Allow-Origin": "*" if pattern == "*" else origin}
    if pattern != "*":
        out["Access-Control-Allow-Credentials"] = "true"
    out["Access-Control-Allow-Methods"] = ", ".join(rule.get("allowed_methods", ()))
    if headers:
        out["Access-Control-Allow-Headers"] = ", ".join(headers)
    expose = rule.get("expose_headers") or ()
    if expose:
        out["Access-Control-Expose-Headers"] = ", ".join(expose)
    max_age = rule.get("max_age_seconds")
    if max_age is not None:
        out["Access-Control-Max-Age"] = str(max_age)
    out["Vary"] = VARY
    return out


def _error(code: str, status: int, message: str, **extra: Any) -> ApiError:
    error = ApiError(code, message, **extra)
    error.status = status  # codes S3 uses only here; events.codes does not list them
    return error


def preflight_headers(
    bucket_exists: bool,
    rules: Sequence[Rule],
    origin: str | None,
    method: str | None,
    request_headers: str | None,
    *,
    on_object: bool,
) -> dict[str, str]:
    """The headers of a 200 preflight answer, or the ApiError S3 answers with instead."""
    if not origin:
        raise _error("BadRequest", 400, NO_ORIGIN)
    shown = method or "OPTIONS"
    if not bucket_exists:
        raise _error("AccessForbidden", 403, NO_BUCKET, method=shown, resource_type="BUCKET")
    if not rules:
        raise _error("AccessForbidden", 403, NOT_ENABLED, method=shown, resource_type="BUCKET")
    if method not in METHODS:
        message = f"Invalid Access-Control-Request-Method: {method or 'null'}"
        raise _error("BadRequest", 400, message)
    headers = requested_headers(request_headers)
    found = match(rules, origin, method, headers)
    if found is None:
        kind = "OBJECT" if on_object else "BUCKET"
        raise _error("AccessForbidden", 403, NOT_ALLOWED, method=method, resource_type=kind)
    return response_headers(*found, origin, headers)


def actual_headers(
    rules: Sequence[Rule], origin: str, method: str, request: Mapping[str, str]
) -> dict[str, str]:
    """Headers for an actual (non-preflight) request, empty when no rule matches.

    Like S3, ``Access-Control-Request-Method`` / ``-Headers`` on such a request are matched as
    if it were a preflight; Access-Control-Allow-Headers is never sent.
    """
    asked = request.get("Access-Control-Request-Method") or method
    headers = requested_headers(request.get("Access-Control-Request-Headers"))
    found = match(rules, origin, asked, headers)
    return {} if found is None else response_headers(*found, origin)


# ---------------------------------------------------------------- the endpoint's glue


async def _rules(request: web.Request, bucket: str) -> tuple[bool, list[Rule]]:
    row = await queries.get_bucket(request.app["ctx"].db, bucket)
    return row is not None, (row["cors"] if row is not None else [])


async def preflight(request: web.Request, bucket: str | None, key: str | None) -> web.Response:
    """``OPTIONS /bucket[/key]``: unauthenticated, answered from the bucket's CORS rules."""
    h = request.headers
    origin = h.get("Origin")
    exists, rules = await _rules(request, bucket) if bucket and origin else (False, [])
    headers = preflight_headers(
        exists,
        rules,
        origin,
        h.get("Access-Control-Request-Method"),
        h.get("Access-Control-Request-Headers"),
        on_object=key is not None,
    )
    return web.Response(headers=headers)


async def decorate(request: web.Request, response: web.StreamResponse, bucket: str) -> None:
    """Add the CORS headers of the rule matching this cross-origin request (errors too).

    Costs one bucket read, and only for requests that carry an ``Origin``.
    """
    origin = request.headers.get("Origin")
    if not origin or response.prepared:
        return
    _, rules = await _rules(request, bucket)
    if rules:
        response.headers.update(actual_headers(rules, origin, request.method, request.headers))
