"""CORS rule matching (api.s3.cors): the pure functions behind preflight and actual requests."""

from __future__ import annotations

from typing import Any

import pytest

from api.errors import ApiError
from api.s3 import cors


def rule(
    origins: list[str],
    methods: list[str],
    headers: list[str] | None = None,
    expose: list[str] | None = None,
    max_age: int | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """A rule as PutBucketCors stores it."""
    return {
        "allowed_origins": origins,
        "allowed_methods": methods,
        "allowed_headers": headers or [],
        "expose_headers": expose or [],
        "max_age_seconds": max_age,
        "id": id,
    }


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "https://anything.example:8443", True),
        ("https://a.example", "https://a.example", True),
        ("https://a.example", "https://a.example/", False),
        ("https://a.example", "http://a.example", False),
        ("https://a.example", "https://A.example", False),  # origins compare exactly
        ("http://*.origin.com", "http://test.origin.com", True),
        ("http://*.origin.com", "http://a.b.origin.com", True),
        ("http://*.origin.com", "http://test.origin.com/", False),
        ("http://*.origin.com", "https://test.origin.com", False),
        ("http://*.origin.com", "http://origin.com", False),
        ("http://localhost:*", "http://localhost:5173", True),
        ("http://localhost:*", "http://localhostx", False),
        ("*.example", "https://x.example", True),
        ("ab*ba", "aba", False),  # head and tail may not overlap
        ("ab*ba", "abba", True),
    ],
)
def test_wildcard_match(pattern: str, value: str, expected: bool) -> None:
    assert cors.wildcard_match(pattern, value) is expected


def test_origin_allowed_returns_the_first_matching_pattern_and_skips_empty_ones() -> None:
    patterns = ["", "https://a.example", "https://*.example", "*"]
    assert cors.origin_allowed(patterns, "https://a.example") == "https://a.example"
    assert cors.origin_allowed(patterns, "https://b.example") == "https://*.example"
    assert cors.origin_allowed(patterns, "http://other") == "*"
    assert cors.origin_allowed(["https://a.example"], "https://b.example") is None
    assert cors.origin_allowed([""], "") is None


def test_requested_headers_are_split_trimmed_and_lower_cased() -> None:
    assert cors.requested_headers(None) == []
    assert cors.requested_headers("") == []
    assert cors.requested_headers("Content-Type, X-Amz-Date ,x-amz-META-a,,") == [
        "content-type",
        "x-amz-date",
        "x-amz-meta-a",
    ]


def test_headers_allowed_ignores_case_and_takes_wildcards() -> None:
    assert cors.headers_allowed(["*"], ["content-type", "x-amz-date"])
    assert cors.headers_allowed(["Content-Type", "X-AMZ-*"], ["content-type", "x-amz-meta-k"])
    assert cors.headers_allowed(["x-AMZ-server-SIDE-encryption"], ["x-amz-server-side-encryption"])
    assert not cors.headers_allowed(["content-type"], ["content-type", "x-amz-date"])
    assert not cors.headers_allowed(["x-amz-*"], ["authorization"])
    assert not cors.headers_allowed([], ["content-type"])
    assert cors.headers_allowed([], [])


def test_match_checks_origin_method_and_headers() -> None:
    rules = [rule(["https://app.example"], ["GET", "PUT"], ["content-type", "x-amz-*"])]
    assert cors.match(rules, "https://app.example", "PUT", ["content-type", "x-amz-date"])
    assert cors.match(rules, "https://app.example", "GET") is not None
    assert cors.match(rules, "https://app.example", "DELETE") is None  # method
    assert cors.match(rules, "https://evil.example", "GET") is None  # origin
    assert cors.match(rules, "https://app.example", "GET", ["authorization"]) is None  # header
    assert cors.match(rules, "https://app.example", "get") is None  # methods are exact


def test_match_without_allowed_headers_refuses_any_requested_header() -> None:
    rules = [rule(["*"], ["GET"])]
    assert cors.match(rules, "http://x", "GET") is not None
    assert cors.match(rules, "http://x", "GET", ["x-amz-request-payer"]) is None


def test_first_matching_rule_wins() -> None:
    first = rule(["https://*.example"], ["GET"], max_age=10, id="first")
    second = rule(["https://a.example"], ["GET", "PUT"], max_age=20, id="second")
    third = rule(["*"], ["GET", "PUT", "DELETE"], id="third")
    rules = [first, second, third]
    found = cors.match(rules, "https://a.example", "GET")
    assert found is not None and found[0]["id"] == "first" and found[1] == "https://*.example"
    found = cors.match(rules, "https://a.example", "PUT")
    assert found is not None and found[0]["id"] == "second"
    found = cors.match(rules, "https://a.example", "DELETE")
    assert found is not None and (found[0]["id"], found[1]) == ("third", "*")
    assert cors.match(rules, "https://a.example", "POST") is None
    assert cors.match([], "https://a.example", "GET") is None


def test_response_headers_for_a_specific_origin() -> None:
    r = rule(["https://*.example"], ["GET", "PUT"], ["*"], ["ETag", "x-amz-version-id"], 3000)
    headers = cors.response_headers(r, "https://*.example", "https://a.example", ["content-type"])
    assert headers == {
        "Access-Control-Allow-Origin": "https://a.example",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Expose-Headers": "ETag, x-amz-version-id",
        "Access-Control-Max-Age": "3000",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }


def test_response_headers_for_the_any_origin_rule_leave_optional_ones_out() -> None:
    headers = cors.response_headers(rule(["*"], ["GET"]), "*", "http://random:1234")
    assert headers == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    # MaxAgeSeconds 0 is a value, not an absence
    assert (
        cors.response_headers(rule(["*"], ["GET"], max_age=0), "*", "x")["Access-Control-Max-Age"]
        == "0"
    )


def _refusal(**kwargs: Any) -> ApiError:
    args: dict[str, Any] = {
        "bucket_exists": True,
        "rules": [rule(["https://app.example"], ["PUT"], ["content-type"])],
        "origin": "https://app.example",
        "method": "PUT",
        "request_headers": None,
        "on_object": True,
    } | kwargs
    with pytest.raises(ApiError) as info:
        cors.preflight_headers(**args)
    return info.value


def test_preflight_allowed() -> None:
    headers = cors.preflight_headers(
        True,
        [rule(["https://app.example"], ["PUT"], ["Content-Type"])],
        "https://app.example",
        "PUT",
        "Content-Type",
        on_object=True,
    )
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Allow-Methods"] == "PUT"
    assert headers["Access-Control-Allow-Headers"] == "content-type"


def test_preflight_refusals_follow_s3() -> None:
    e = _refusal(origin=None)
    assert (e.code, e.status, e.message) == ("BadRequest", 400, cors.NO_ORIGIN)
    e = _refusal(bucket_exists=False, rules=[], method=None)
    assert (e.code, e.status, e.message) == ("AccessForbidden", 403, cors.NO_BUCKET)
    assert e.extra == {"method": "OPTIONS", "resource_type": "BUCKET"}
    e = _refusal(rules=[])
    assert (e.code, e.status, e.message) == ("AccessForbidden", 403, cors.NOT_ENABLED)
    assert e.extra == {"method": "PUT", "resource_type": "BUCKET"}
    e = _refusal(method=None)
    assert (e.code, e.status) == ("BadRequest", 400)
    assert e.message == "Invalid Access-Control-Request-Method: null"
    e = _refusal(method="PATCH")
    assert (e.code, e.status) == ("BadRequest", 400)
    for kwargs in (
        {"origin": "https://evil.example"},
        {"method": "GET"},
        {"request_headers": "content-type, x-amz-acl"},
    ):
        e = _refusal(**kwargs)
        assert (e.code, e.status, e.message) == ("AccessForbidden", 403, cors.NOT_ALLOWED)
        assert e.extra["resource_type"] == "OBJECT"
    assert _refusal(origin="https://evil.example", on_object=False).extra == {
        "method": "PUT",
        "resource_type": "BUCKET",
    }


def test_actual_request_headers() -> None:
    rules = [rule(["https://app.example"], ["GET"], ["*"], ["ETag"], 60)]
    got = cors.actual_headers(rules, "https://app.example", "GET", {})
    assert got["Access-Control-Allow-Origin"] == "https://app.example"
    assert got["Access-Control-Expose-Headers"] == "ETag"
    assert got["Access-Control-Max-Age"] == "60"
    assert "Access-Control-Allow-Headers" not in got
    assert cors.actual_headers(rules, "https://app.example", "PUT", {}) == {}
    assert cors.actual_headers(rules, "https://evil.example", "GET", {}) == {}
    # like S3, preflight headers on an actual request are matched as a preflight's would be
    asked = {"Access-Control-Request-Method": "PUT"}
    assert cors.actual_headers(rules, "https://app.example", "GET", asked) == {}
