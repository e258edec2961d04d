"""POST Object (browser form uploads) with policies from boto3's ``generate_presigned_post``,
sent as a browser sends them (multipart/form-data), against the running stack."""

from __future__ import annotations

import hashlib
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

import urllib3

from tests.e2e.s3_support import all_keys, error_code, unique

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def post(
    presigned: dict[str, Any], body: bytes, *, filename: str = "photo.png", **extra: str
) -> urllib3.BaseHTTPResponse:
    fields: dict[str, Any] = {**presigned["fields"], **extra}
    fields["file"] = (filename, body, "application/octet-stream")  # the file comes last
    return urllib3.request("POST", presigned["url"], fields=fields, redirect=False, retries=False)


def presign(s3: Any, bucket: str, key: str, **kwargs: Any) -> dict[str, Any]:
    return s3.generate_presigned_post(Bucket=bucket, Key=key, ExpiresIn=300, **kwargs)


def test_a_presigned_post_stores_the_file_under_its_policy(s3: Any, bucket: str) -> None:
    presigned = presign(
        s3,
        bucket,
        "uploads/${filename}",
        Fields={"Content-Type": "image/png", "x-amz-meta-owner": "ada"},
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            {"Content-Type": "image/png"},
            {"x-amz-meta-owner": "ada"},
            ["content-length-range", 1, 1024 * 1024],
        ],
    )
    body = b"\x89PNG" + bytes(range(256)) * 40
    r = post(presigned, body)
    assert r.status == 204, r.data
    assert r.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert r.headers["Location"].endswith(f"/{bucket}/uploads/photo.png")
    got = s3.get_object(Bucket=bucket, Key="uploads/photo.png")
    assert got["Body"].read() == body
    assert got["ContentType"] == "image/png"
    assert got["Metadata"] == {"owner": "ada"}


def test_success_action_status_201_and_redirect(s3: Any, bucket: str) -> None:
    presigned = presign(
        s3,
        bucket,
        "a.txt",
        Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}],
    )
    r = post(presigned, b"hello")
    assert r.status == 201, r.data
    doc = ET.fromstring(r.data)
    assert doc.tag == f"{NS}PostResponse"
    assert doc.findtext(f"{NS}Key") == "a.txt" and doc.findtext(f"{NS}Bucket") == bucket
    assert doc.findtext(f"{NS}ETag") == f'"{hashlib.md5(b"hello").hexdigest()}"'

    redirect = "https://app.example/done?from=form"
    presigned = presign(
        s3,
        bucket,
        "b.txt",
        Fields={"success_action_redirect": redirect},
        Conditions=[{"success_action_redirect": redirect}],
    )
    r = post(presigned, b"bye")
    assert r.status == 303, r.data
    target = urlsplit(r.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://app.example/done"
    query = parse_qs(target.query)
    assert query["from"] == ["form"] and query["bucket"] == [bucket] and query["key"] == ["b.txt"]
    assert query["etag"] == [f'"{hashlib.md5(b"bye").hexdigest()}"']
    assert s3.get_object(Bucket=bucket, Key="b.txt")["Body"].read() == b"bye"


def test_what_the_policy_does_not_allow_is_refused_and_nothing_is_stored(
    s3: Any, bucket: str
) -> None:
    presigned = presign(
        s3,
        bucket,
        "uploads/${filename}",
        Conditions=[["starts-with", "$key", "uploads/"], ["content-length-range", 1, 100]],
    )
    # a key outside the signed prefix
    r = post({**presigned, "fields": {**presigned["fields"], "key": "elsewhere/x"}}, b"data")
    assert (r.status, error_code(r.data)) == (403, "AccessDenied"), r.data
    assert b"Policy Condition failed" in r.data
    # a field the policy does not name
    r = post(presigned, b"data", **{"x-amz-meta-extra": "1"})
    assert (r.status, error_code(r.data)) == (403, "AccessDenied"), r.data
    assert b"Extra input fields: x-amz-meta-extra" in r.data
    # a file over the content-length-range
    r = post(presigned, b"x" * 101)
    assert (r.status, error_code(r.data)) == (400, "EntityTooLarge"), r.data
    # a tampered signature
    fields = dict(presigned["fields"])
    fields["x-amz-signature"] = "0" * 64
    r = post({**presigned, "fields": fields}, b"data")
    assert (r.status, error_code(r.data)) == (403, "SignatureDoesNotMatch"), r.data
    # an unknown access key
    fields = dict(presigned["fields"])
    scope = fields["x-amz-credential"].split("/", 1)[1]
    fields["x-amz-credential"] = f"AKIANOTAKEY/{scope}"
    r = post({**presigned, "fields": fields}, b"data")
    assert (r.status, error_code(r.data)) == (403, "InvalidAccessKeyId"), r.data
    # no file at all
    r = urllib3.request("POST", presigned["url"], fields=presigned["fields"], retries=False)
    assert (r.status, error_code(r.data)) == (400, "InvalidArgument"), r.data
    assert all_keys(s3, bucket) == []


def test_an_expired_policy_is_refused(s3: Any, bucket: str) -> None:
    presigned = s3.generate_presigned_post(Bucket=bucket, Key="late", ExpiresIn=1)
    time.sleep(1.5)
    r = post(presigned, b"too late")
    assert (r.status, error_code(r.data)) == (403, "AccessDenied"), r.data
    assert b"Policy expired" in r.data
    assert all_keys(s3, bucket) == []


def test_an_unsigned_form_is_anonymous_and_needs_a_bucket_policy(s3: Any, bucket: str) -> None:
    url = s3.generate_presigned_post(Bucket=bucket, Key="k")["url"]
    fields = {"key": "drop/box.txt", "file": ("box.txt", b"anonymous bytes", "text/plain")}
    r = urllib3.request("POST", url, fields=fields, retries=False)
    assert (r.status, error_code(r.data)) == (403, "AccessDenied"), r.data
    assert all_keys(s3, bucket) == []
    missing = unique("missing")
    r = urllib3.request("POST", url.replace(bucket, missing), fields=fields, retries=False)
    assert (r.status, error_code(r.data)) == (404, "NoSuchBucket"), r.data
