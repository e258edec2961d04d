"""S3 conditional writes (If-None-Match: * / If-Match on PutObject, CopyObject and
CompleteMultipartUpload) through boto3 against the stack; plus ListMultipartUploads' delimiter."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3_support import Raw, error_code, make_bucket, pattern, s3_error
from tests.e2e.stack import Stack

BIG = 300 * 1024  # above the inline limit: the body travels as blob chunks in the log


@pytest.fixture(scope="module")
def s3(stack: Stack) -> Any:
    return stack.boto3(max_pool_connections=16)


def md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


def body_of(s3: Any, bucket: str, key: str) -> tuple[bytes, str]:
    got = s3.get_object(Bucket=bucket, Key=key)
    return got["Body"].read(), got["ETag"]


def versions(s3: Any, bucket: str) -> list[tuple[str, str, bool]]:
    listed = s3.list_object_versions(Bucket=bucket)
    out = [(v["Key"], v["VersionId"], False) for v in listed.get("Versions", [])]
    out += [(m["Key"], m["VersionId"], True) for m in listed.get("DeleteMarkers", [])]
    return sorted(out)


# ---------------------------------------------------------------- PutObject


def test_if_none_match_creates_only_when_the_key_is_free(s3: Any, bucket: str) -> None:
    first = pattern(BIG, b"first")
    put = s3.put_object(Bucket=bucket, Key="k", Body=first, IfNoneMatch="*")
    assert put["ETag"] == md5_etag(first)
    assert body_of(s3, bucket, "k") == (first, md5_etag(first))

    with s3_error("PreconditionFailed", 412) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=pattern(BIG, b"second"), IfNoneMatch="*")
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/xml"
    )
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"tiny", IfNoneMatch="*")  # inline body
    assert body_of(s3, bucket, "k") == (first, md5_etag(first))
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_if_match_overwrites_only_the_expected_version(s3: Any, bucket: str) -> None:
    v1 = b"version one"
    etag1 = s3.put_object(Bucket=bucket, Key="doc", Body=v1)["ETag"]

    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="doc", Body=b"stale writer", IfMatch=md5_etag(b"other"))
    assert body_of(s3, bucket, "doc") == (v1, etag1)

    v2 = pattern(BIG, b"two")
    put = s3.put_object(Bucket=bucket, Key="doc", Body=v2, IfMatch=etag1)
    assert put["ETag"] == md5_etag(v2)
    assert body_of(s3, bucket, "doc") == (v2, md5_etag(v2))

    # the old ETag no longer matches: a second writer that read v1 loses
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="doc", Body=b"lost update", IfMatch=etag1)
    # quotes are optional
    v3 = b"version three"
    s3.put_object(Bucket=bucket, Key="doc", Body=v3, IfMatch=md5_etag(v2).strip('"'))
    assert body_of(s3, bucket, "doc") == (v3, md5_etag(v3))


def test_if_match_on_a_missing_key_is_no_such_key(s3: Any, bucket: str) -> None:
    with s3_error("NoSuchKey", 404) as info:
        s3.put_object(Bucket=bucket, Key="nothing", Body=b"x", IfMatch=md5_etag(b"x"))
    assert info.value.response["Error"].get("Key") == "nothing"
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []


def test_if_none_match_with_an_etag_is_not_implemented(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    with s3_error("NotImplemented", 501):
        s3.put_object(Bucket=bucket, Key="k", Body=b"new", IfNoneMatch=md5_etag(b"other"))
    assert body_of(s3, bucket, "k")[0] == b"kept"


def test_if_none_match_after_a_delete_succeeds(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"new", IfNoneMatch="*")
    assert body_of(s3, bucket, "k")[0] == b"new"


def test_a_delete_marker_counts_as_no_object(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"refused", IfNoneMatch="*")
    assert versions(s3, bucket) == [("k", old["VersionId"], False)]

    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True
    with s3_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", IfMatch=old["ETag"])
    new = s3.put_object(Bucket=bucket, Key="k", Body=b"new", IfNoneMatch="*")
    assert new["VersionId"] not in (old["VersionId"], marker["VersionId"])
    assert body_of(s3, bucket, "k")[0] == b"new"
    assert versions(s3, bucket) == sorted(
        [
            ("k", old["VersionId"], False),
            ("k", marker["VersionId"], True),
            ("k", new["VersionId"], False),
        ]
    )
    # the older version is untouched
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=old["VersionId"])
    assert got["Body"].read() == b"old"


def test_concurrent_if_none_match_puts_have_exactly_one_winner(s3: Any, bucket: str) -> None:
    bodies = [pattern(BIG + i, f"writer-{i}".encode()) for i in range(8)]
    start = threading.Barrier(len(bodies))

    def attempt(body: bytes) -> int:
        start.wait()
        try:
            s3.put_object(Bucket=bucket, Key="race", Body=body, IfNoneMatch="*")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "PreconditionFailed", exc.response
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
        return 200

    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(attempt, bodies))
    assert sorted(statuses) == [200] + [412] * 7, statuses
    winner = bodies[statuses.index(200)]
    assert body_of(s3, bucket, "race") == (winner, md5_etag(winner))
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["Size"]) for v in listed["Versions"]] == [("race", len(winner))]


def test_concurrent_if_match_puts_have_exactly_one_winner(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    etag = s3.put_object(Bucket=bucket, Key="counter", Body=b"0")["ETag"]
    bodies = [f"1 from writer {i}".encode() for i in range(6)]
    start = threading.Barrier(len(bodies))

    def attempt(body: bytes) -> int:
        start.wait()
        try:
            s3.put_object(Bucket=bucket, Key="counter", Body=body, IfMatch=etag)
        except ClientError as exc:
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
        return 200

    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(attempt, bodies))
    assert sorted(statuses) == [200] + [412] * 5, statuses
    assert body_of(s3, bucket, "counter")[0] == bodies[statuses.index(200)]
    assert len(versions(s3, bucket)) == 2  # the original and the one winner


def test_a_conditional_put_racing_delete_bucket_never_lands_in_a_deleted_bucket(
    s3: Any,
) -> None:
    """Each round: an empty bucket, an If-None-Match: * put and a DeleteBucket at once. Exactly
    one may win; both succeeding would leave an acknowledged object in a deleted bucket."""
    outcomes = set()
    for _ in range(10):
        name = make_bucket(s3)
        start = threading.Barrier(2)

        def put(name: str = name, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                s3.put_object(Bucket=name, Key="k", Body=b"v", IfNoneMatch="*")
            except ClientError as exc:
                return exc.response["Error"]["Code"]
            return "ok"

        def delete(name: str = name, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                s3.delete_bucket(Bucket=name)
            except ClientError as exc:
                return exc.response["Error"]["Code"]
            return "ok"

        with ThreadPoolExecutor(2) as pool:
            put_f, delete_f = pool.submit(put), pool.submit(delete)
            result = (put_f.result(), delete_f.result())
        assert result in {("ok", "BucketNotEmpty"), ("NoSuchBucket", "ok")}, result
        outcomes.add(result)
        if result[0] == "ok":
            assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
        else:
            with s3_error("NoSuchBucket", 404):
                s3.list_objects_v2(Bucket=name)
    assert outcomes  # (which side wins each round is up to the race)


# ---------------------------------------------------------------- CompleteMultipartUpload


def multipart(s3: Any, bucket: str, key: str, body: bytes) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=body)
    return upload_id, [{"PartNumber": 1, "ETag": part["ETag"]}]


def test_complete_with_if_none_match_on_an_existing_key_fails(s3: Any, bucket: str) -> None:
    original = b"protected"
    etag = s3.put_object(Bucket=bucket, Key="k", Body=original)["ETag"]
    upload_id, parts = multipart(s3, bucket, "k", pattern(BIG, b"mp"))
    with s3_error("PreconditionFailed", 412):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
    assert body_of(s3, bucket, "k") == (original, etag)
    # the upload is still there, as after any other failed completion: it can be aborted
    listed = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("k", upload_id)]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert body_of(s3, bucket, "k") == (original, etag)


def test_complete_with_conditions_that_hold(s3: Any, bucket: str) -> None:
    first = pattern(BIG, b"mp-first")
    upload_id, parts = multipart(s3, bucket, "k", first)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        IfNoneMatch="*",
    )
    assert body_of(s3, bucket, "k") == (first, done["ETag"])

    second = pattern(BIG, b"mp-second")
    upload_id, parts = multipart(s3, bucket, "k", second)
    with s3_error("PreconditionFailed", 412):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            IfMatch=md5_etag(first),  # a single-part ETag: not the multipart object's
        )
    replaced = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        IfMatch=done["ETag"],
    )
    assert body_of(s3, bucket, "k") == (second, replaced["ETag"])


def test_complete_with_if_match_on_a_missing_key_is_no_such_key(s3: Any, bucket: str) -> None:
    upload_id, parts = multipart(s3, bucket, "k", b"part")
    with s3_error("NoSuchKey", 404):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            IfMatch=md5_etag(b"anything"),
        )
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []


# ---------------------------------------------------------------- CopyObject (destination)


def test_copy_with_if_none_match_onto_an_existing_key_fails(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source bytes")
    etag = s3.put_object(Bucket=bucket, Key="dst", Body=b"destination")["ETag"]
    source = {"Bucket": bucket, "Key": "src"}
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfNoneMatch="*")
    assert body_of(s3, bucket, "dst") == (b"destination", etag)

    s3.copy_object(Bucket=bucket, Key="fresh", CopySource=source, IfNoneMatch="*")
    assert body_of(s3, bucket, "fresh")[0] == b"source bytes"

    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfMatch=md5_etag(b"no"))
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfMatch=etag)
    assert body_of(s3, bucket, "dst")[0] == b"source bytes"


# ---------------------------------------------------------------- raw headers


def test_raw_conditional_put_answers_s3_xml(raw: Raw, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"there")
    status, _, body = raw("PUT", f"/{bucket}/k", b"again", {"If-None-Match": "*"})
    assert status == 412 and error_code(body) == "PreconditionFailed"
    status, _, body = raw("PUT", f"/{bucket}/k", b"again", {"If-Match": 'W/"nope", "x"'})
    assert status == 412 and error_code(body) == "PreconditionFailed"
    status, _, _ = raw("PUT", f"/{bucket}/k", b"again", {"If-Match": "*"})
    assert status == 200
    assert body_of(s3, bucket, "k")[0] == b"again"


# ---------------------------------------------------------------- ListMultipartUploads


def test_list_multipart_uploads_with_delimiter(s3: Any, bucket: str) -> None:
    keys = ["a.txt", "docs/a", "docs/b", "docs/deep/c", "img/x", "z.txt"]
    ids = {k: s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in keys}
    listed = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [
        ("a.txt", ids["a.txt"]),
        ("z.txt", ids["z.txt"]),
    ]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["docs/", "img/"]
    assert listed["Delimiter"] == "/"

    inside = s3.list_multipart_uploads(Bucket=bucket, Prefix="docs/", Delimiter="/")
    assert [u["Key"] for u in inside["Uploads"]] == ["docs/a", "docs/b"]
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["docs/deep/"]

    # uploads and common prefixes share max-uploads; the paginator walks them all once
    uploads: list[str] = []
    prefixes: list[str] = []
    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    for page in pages:
        assert len(page.get("Uploads", [])) + len(page.get("CommonPrefixes", [])) <= 1
        uploads += [u["Key"] for u in page.get("Uploads", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert (uploads, prefixes) == (["a.txt", "z.txt"], ["docs/", "img/"])
