"""CORS against the running stack: a bucket's rules answer browser preflights (OPTIONS, without
credentials) and add Access-Control-* headers to actual cross-origin requests."""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from typing import Any
from urllib.error import HTTPError

import pytest

from tests.e2e.s3_support import make_bucket, unique
from tests.e2e.stack import Stack

APP = "https://app.example"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
RULES = [
    {
        "AllowedOrigins": [APP, "http://*.dev.example"],
        "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["Content-Type", "x-amz-*"],
        "ExposeHeaders": ["ETag", "x-amz-version-id"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


@pytest.fixture
def bucket(s3: Any) -> str:
    name = make_bucket(s3)
    s3.put_object(Bucket=name, Key="photo.jpg", Body=b"jpeg bytes")
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": RULES})
    return name


def send(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, Any, bytes]:
    """A plain (unsigned unless the URL is presigned) HTTP request, as a browser sends it."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers, r.read()
    except HTTPError as e:
        return e.code, e.headers, e.read()


def error(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return {child.tag: child.text or "" for child in root}


def preflight(url: str, origin: str | None, method: str | None, **more: str) -> Any:
    headers = dict(more)
    if origin is not None:
        headers["Origin"] = origin
    if method is not None:
        headers["Access-Control-Request-Method"] = method
    return send(url, "OPTIONS", headers)


def access_control(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def test_preflight_from_an_allowed_origin(stack: Stack, bucket: str) -> None:
    url = f"{stack.s3_url}/{bucket}/photo.jpg"
    status, headers, body = preflight(
        url, APP, "PUT", **{"Access-Control-Request-Headers": "Content-Type, X-Amz-Date"}
    )
    assert status == 200, body
    assert body == b""
    assert access_control(headers) == {
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT, HEAD",
        "Access-Control-Allow-Headers": "content-type, x-amz-date",
        "Access-Control-Expose-Headers": "ETag, x-amz-version-id",
        "Access-Control-Max-Age": "600",
    }
    assert headers["Vary"] == VARY

    # a wildcard origin, on the bucket itself
    status, headers, _ = preflight(f"{stack.s3_url}/{bucket}", "http://me.dev.example", "HEAD")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "http://me.dev.example"

    # the first rule does not allow DELETE or this origin; the second (any origin, GET) answers *
    status, headers, _ = preflight(url, "https://elsewhere.example", "GET")
    assert status == 200
    assert access_control(headers) == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET",
    }
    assert headers["Vary"] == VARY


@pytest.mark.parametrize(
    ("origin", "method", "asked"),
    [
        ("https://evil.example", "PUT", None),  # origin
        (APP, "DELETE", None),  # method
        (APP, "PUT", "Content-Type, Authorization"),  # a header no AllowedHeader covers
        ("https://app.example.evil", "PUT", None),  # no partial origin match
        ("https://elsewhere.example", "GET", "Content-Type"),  # the * rule allows no header
    ],
)
def test_preflight_from_a_disallowed_request_is_forbidden(
    stack: Stack, bucket: str, origin: str, method: str, asked: str | None
) -> None:
    more = {"Access-Control-Request-Headers": asked} if asked else {}
    status, headers, body = preflight(f"{stack.s3_url}/{bucket}/photo.jpg", origin, method, **more)
    assert status == 403
    assert error(body)["Code"] == "AccessForbidden"
    assert error(body)["Message"].startswith("CORSResponse: This CORS request is not allowed.")
    assert error(body)["Method"] == method
    assert error(body)["ResourceType"] == "OBJECT"
    assert access_control(headers) == {}


def test_preflight_to_a_bucket_without_cors(stack: Stack, s3: Any) -> None:
    name = make_bucket(s3)
    status, headers, body = preflight(f"{stack.s3_url}/{name}/k", APP, "GET")
    assert status == 403
    assert error(body)["Code"] == "AccessForbidden"
    assert error(body)["Message"] == "CORSResponse: CORS is not enabled for this bucket."
    assert (error(body)["Method"], error(body)["ResourceType"]) == ("GET", "BUCKET")
    assert access_control(headers) == {}

    # and after DeleteBucketCors, the same
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": RULES})
    assert preflight(f"{stack.s3_url}/{name}/k", APP, "GET")[0] == 200
    s3.delete_bucket_cors(Bucket=name)
    status, _, body = preflight(f"{stack.s3_url}/{name}/k", APP, "GET")
    assert status == 403 and error(body)["Message"].endswith("CORS is not enabled for this bucket.")


def test_preflight_to_a_missing_bucket(stack: Stack) -> None:
    status, _, body = preflight(f"{stack.s3_url}/{unique()}/k", APP, "GET")
    assert status == 403
    assert error(body)["Code"] == "AccessForbidden"
    assert error(body)["Message"] == "CORSResponse: Bucket not found"


def test_preflight_without_origin_or_method_is_a_bad_request(stack: Stack, bucket: str) -> None:
    url = f"{stack.s3_url}/{bucket}/photo.jpg"
    status, _, body = preflight(url, None, "GET")
    assert status == 400
    assert error(body)["Code"] == "BadRequest"
    assert error(body)["Message"] == "Insufficient information. Origin request header needed."
    status, _, body = preflight(url, APP, None)
    assert status == 400
    assert error(body)["Code"] == "BadRequest"
    assert error(body)["Message"] == "Invalid Access-Control-Request-Method: null"


def test_actual_get_with_origin_gets_cors_headers(stack: Stack, s3: Any, bucket: str) -> None:
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "photo.jpg"}, ExpiresIn=300
    )
    status, headers, body = send(url, headers={"Origin": APP})
    assert (status, body) == (200, b"jpeg bytes")
    assert access_control(headers) == {
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT, HEAD",
        "Access-Control-Expose-Headers": "ETag, x-amz-version-id",
        "Access-Control-Max-Age": "600",
    }
    assert headers["Vary"] == VARY

    # no Origin: not a cross-origin request, no CORS headers
    status, headers, body = send(url)
    assert (status, body) == (200, b"jpeg bytes")
    assert access_control(headers) == {} and "Vary" not in headers

    # an origin no rule allows for GET... except the * rule
    status, headers, _ = send(url, headers={"Origin": "https://elsewhere.example"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"

    # boto3 sends no Origin: no CORS headers
    got = s3.get_object(Bucket=bucket, Key="photo.jpg")
    assert "access-control-allow-origin" not in got["ResponseMetadata"]["HTTPHeaders"]


def test_errors_carry_cors_headers_so_the_page_can_read_them(
    stack: Stack, s3: Any, bucket: str
) -> None:
    missing = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "missing"}, ExpiresIn=300
    )
    status, headers, body = send(missing, headers={"Origin": APP})
    assert status == 404 and error(body)["Code"] == "NoSuchKey"
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Vary"] == VARY

    # refused before the request is even located: a tampered signature
    good = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "photo.jpg"}, ExpiresIn=300
    )
    tampered = good.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    status, headers, body = send(tampered, headers={"Origin": APP})
    assert status == 403 and error(body)["Code"] in ("SignatureDoesNotMatch", "AccessDenied")
    assert headers["Access-Control-Allow-Origin"] == APP

    # unsigned (anonymous) access to a private object
    status, headers, body = send(f"{stack.s3_url}/{bucket}/photo.jpg", headers={"Origin": APP})
    assert status == 403 and error(body)["Code"] == "AccessDenied"
    assert headers["Access-Control-Allow-Origin"] == APP

    # a method no rule allows: the error comes without CORS headers
    url = s3.generate_presigned_url(
        "delete_object", Params={"Bucket": bucket, "Key": "photo.jpg"}, ExpiresIn=300
    )
    status, headers, _ = send(url, "DELETE", headers={"Origin": APP})
    assert status == 204
    assert access_control(headers) == {}


def test_presigned_put_with_origin(stack: Stack, s3: Any, bucket: str) -> None:
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "upload.txt"}, ExpiresIn=300
    )
    # the browser's preflight for it, then the upload itself
    status, headers, _ = preflight(
        url, APP, "PUT", **{"Access-Control-Request-Headers": "content-type"}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == APP
    status, headers, _ = send(
        url, "PUT", headers={"Origin": APP, "Content-Type": "text/plain"}, body=b"from a page"
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Access-Control-Expose-Headers"] == "ETag, x-amz-version-id"
    assert "ETag" in headers
    got = s3.get_object(Bucket=bucket, Key="upload.txt")
    assert got["Body"].read() == b"from a page"
    assert got["ContentType"] == "text/plain"

    # a disallowed origin still uploads (CORS is the browser's business), without CORS headers
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "other.txt"}, ExpiresIn=300
    )
    status, headers, _ = send(url, "PUT", headers={"Origin": "https://evil.example"}, body=b"x")
    assert status == 200 and access_control(headers) == {}
