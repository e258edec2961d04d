"""Object operations through boto3 (and presigned URLs through urllib) against the stack."""

from __future__ import annotations

import hashlib
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import crc32c
import pytest
from awscrt import checksums as crt

from tests.e2e.s3_support import MIB, Raw, all_keys, b64, error_code, make_bucket, pattern, s3_error

# ---------------------------------------------------------------- put, get, head, delete


def test_put_get_head_with_metadata_and_stored_headers(s3: Any, bucket: str) -> None:
    data = pattern(300 * 1024)  # above the inline limit: travels as blob chunks
    key = "docs/report 2024/naïve+résumé.txt"
    expires = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="r.txt"',
        ContentLanguage="en-GB",
        CacheControl="max-age=60",
        Expires=expires,
        Metadata={"Album": "Pets", "x-y": "spaces and = signs"},
    )
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert "VersionId" not in put  # never-versioned bucket: no version header

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "text/plain; charset=utf-8"
    assert got["ContentEncoding"] == "identity"
    assert got["ContentDisposition"] == 'attachment; filename="r.txt"'
    assert got["ContentLanguage"] == "en-GB"
    assert got["CacheControl"] == "max-age=60"
    assert got["Expires"] == expires
    assert got["Metadata"] == {"album": "Pets", "x-y": "spaces and = signs"}
    assert got["AcceptRanges"] == "bytes"
    assert abs(got["LastModified"] - datetime.now(UTC)) < timedelta(minutes=1)

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == put["ETag"]
    assert head["Metadata"] == got["Metadata"]
    assert head["ContentType"] == got["ContentType"]
    assert head["LastModified"] == got["LastModified"]


def test_gzip_content_encoding_is_stored_not_decoded(s3: Any, bucket: str) -> None:
    raw = b"compress me " * 1000
    gz = zlib.compress(raw, wbits=31)  # a real gzip stream
    s3.put_object(Bucket=bucket, Key="t.gz", Body=gz, ContentEncoding="gzip")
    got = s3.get_object(Bucket=bucket, Key="t.gz")
    assert got["ContentEncoding"] == "gzip"
    assert got["ContentLength"] == len(gz)
    assert got["ETag"] == f'"{hashlib.md5(gz).hexdigest()}"'
    assert got["Body"].read() == gz
    # bytes that merely claim to be gzip are stored as sent too
    s3.put_object(Bucket=bucket, Key="fake.gz", Body=b"not gzip at all", ContentEncoding="gzip")
    assert s3.get_object(Bucket=bucket, Key="fake.gz")["Body"].read() == b"not gzip at all"


def test_defaults_empty_object_and_overwrite(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert got["ContentType"] == "binary/octet-stream"  # S3's default
    assert got["Metadata"] == {}

    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Metadata={"a": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second", ContentType="text/x-second")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {}  # an overwrite replaces metadata whole
    assert got["ContentType"] == "text/x-second"


def test_missing_key_get_head_delete(s3: Any, bucket: str) -> None:
    with s3_error("NoSuchKey", 404) as info:
        s3.get_object(Bucket=bucket, Key="nope/x")
    assert info.value.response["Error"]["Key"] == "nope/x"
    with s3_error("404", 404) as info:  # HEAD errors carry no body
        s3.head_object(Bucket=bucket, Key="nope/x")
    # S3 deletes are idempotent: a missing key is a 204 too
    response = s3.delete_object(Bucket=bucket, Key="nope/x")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert all_keys(s3, bucket) == []


def test_delete_object_removes_only_that_key(s3: Any, bucket: str) -> None:
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    response = s3.delete_object(Bucket=bucket, Key="b")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert all_keys(s3, bucket) == ["a", "c"]
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="b")
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"c"


# ---------------------------------------------------------------- ranges and conditions


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=990-", 990, 999),
        ("bytes=-7", 993, 999),
        ("bytes=995-5000", 995, 999),  # an end past the object is cut to its last byte
    ],
)
def test_range_get(s3: Any, bucket: str, header: str, start: int, end: int) -> None:
    data = pattern(1000)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/1000"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == data[start : end + 1]


def test_part_number_of_a_plain_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="p", Body=b"single part")
    # an object uploaded in one piece is its own part 1
    assert s3.get_object(Bucket=bucket, Key="p", PartNumber=1)["Body"].read() == b"single part"
    with s3_error("InvalidPartNumber", 416):
        s3.get_object(Bucket=bucket, Key="p", PartNumber=2)
    with s3_error("InvalidRequest", 400):
        s3.get_object(Bucket=bucket, Key="p", PartNumber=1, Range="bytes=0-1")


def test_range_get_of_a_chunked_object_with_checksum_mode(s3: Any, bucket: str) -> None:
    data = pattern(9 * MIB + 123)  # several 4 MiB chunks
    s3.put_object(Bucket=bucket, Key="big", Body=data, ChecksumAlgorithm="SHA256")
    got = s3.get_object(
        Bucket=bucket, Key="big", Range="bytes=4194300-8388700", ChecksumMode="ENABLED"
    )
    # the full object's checksum would not match the part sent: S3 leaves it out
    assert "ChecksumSHA256" not in got
    assert got["Body"].read() == data[4194300:8388701]


def test_conditional_get(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    etag = put["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    before, after = modified - timedelta(hours=1), modified + timedelta(hours=1)

    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch="*")["ETag"] == etag
    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
    with s3_error("412", 412):  # HEAD: status only
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')

    with s3_error("304", 304):
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    other = s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"ffffffffffffffffffffffffffffffff"')
    assert other["Body"].read() == b"conditional"

    with s3_error("304", 304):
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=after)
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=before)["ETag"] == etag

    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=before)
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=after)["ETag"] == etag

    # RFC 7232 precedence, as S3 applies it: If-Match true wins over If-Unmodified-Since false,
    # If-None-Match false wins over If-Modified-Since false.
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=before)
    with s3_error("304", 304):
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag, IfModifiedSince=before)


def test_response_header_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="application/json",
        ResponseContentDisposition='attachment; filename="o.json"',
        ResponseContentEncoding="identity",
        ResponseContentLanguage="fr",
        ResponseCacheControl="no-store",
        ResponseExpires=datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC),
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == 'attachment; filename="o.json"'
    assert got["ContentEncoding"] == "identity"
    assert got["ContentLanguage"] == "fr"
    assert got["CacheControl"] == "no-store"
    assert got["Expires"] == datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert got["Body"].read() == b"x"
    # overrides change one response, not the object
    assert s3.head_object(Bucket=bucket, Key="o")["ContentType"] == "text/plain"


# ---------------------------------------------------------------- integrity


def test_content_md5_verified(s3: Any, bucket: str) -> None:
    data = b"integrity matters"
    good = b64(hashlib.md5(data).digest())
    s3.put_object(Bucket=bucket, Key="m", Body=data, ContentMD5=good)
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == data


CHECKSUMS = {
    "CRC32": lambda d: zlib.crc32(d).to_bytes(4, "big"),
    "CRC32C": lambda d: crc32c.crc32c(d).to_bytes(4, "big"),
    "CRC64NVME": lambda d: crt.crc64nvme(d).to_bytes(8, "big"),
    "SHA1": lambda d: hashlib.sha1(d).digest(),
    "SHA256": lambda d: hashlib.sha256(d).digest(),
}


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksums_computed_by_boto3_verified_and_returned(
    s3: Any, bucket: str, algorithm: str
) -> None:
    data = pattern(70_000, algorithm.encode())
    put = s3.put_object(Bucket=bucket, Key="sum", Body=data, ChecksumAlgorithm=algorithm)
    field = f"Checksum{algorithm}"
    assert put[field] == b64(CHECKSUMS[algorithm](data))
    got = s3.get_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert got[field] == put[field]
    assert got["Body"].read() == data  # botocore validates the body against it as it reads
    assert s3.head_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")[field] == put[field]
    # without ChecksumMode the checksum is not sent
    assert field not in s3.head_object(Bucket=bucket, Key="sum")


@pytest.mark.parametrize("algorithm", sorted(CHECKSUMS))
def test_checksum_given_as_a_header_value(s3: Any, bucket: str, algorithm: str) -> None:
    # CRC32C needs botocore[crt] to compute; sent precomputed it needs nothing
    data = pattern(1000, b"precomputed")
    value = b64(CHECKSUMS[algorithm](data))
    field = f"Checksum{algorithm}"
    put = s3.put_object(Bucket=bucket, Key="pre", Body=data, **{field: value})
    assert put[field] == value
    got = s3.get_object(Bucket=bucket, Key="pre", ChecksumMode="ENABLED")
    assert got[field] == value
    assert got["Body"].read() == data


def aws_chunked(data: bytes, trailer: str, piece: int = 64 * 1024) -> bytes:
    """An unsigned aws-chunked body with a trailing checksum, as current SDKs send by default."""
    out = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + piece]), data[i : i + piece])
        for i in range(0, len(data), piece)
    )
    return out + b"0\r\n" + trailer.encode() + b"\r\n\r\n"


def test_streaming_upload_with_a_trailing_checksum(s3: Any, raw: Raw, bucket: str) -> None:
    data = pattern(300_000, b"trailer")
    crc = b64(zlib.crc32(data).to_bytes(4, "big"))
    headers = {
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "Content-Type": "text/plain",
    }
    body = aws_chunked(data, f"x-amz-checksum-crc32:{crc}")
    status, answer, _ = raw("PUT", f"/{bucket}/streamed", body, headers)
    assert status == 200
    assert answer["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="streamed", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == crc
    assert "ContentEncoding" not in got  # aws-chunked describes the request, not the object
    assert got["ContentType"] == "text/plain"

    # a trailer that does not match the bytes: refused, and the object stays as it was
    wrong = aws_chunked(pattern(300_000, b"other"), f"x-amz-checksum-crc32:{crc}")
    status, _, answer_body = raw("PUT", f"/{bucket}/streamed", wrong, headers)
    assert (status, error_code(answer_body)) == (400, "BadDigest")
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == data


def test_streaming_upload_with_a_crc64nvme_trailer_as_the_aws_cli_v2_sends(
    s3: Any, raw: Raw, bucket: str
) -> None:
    """AWS CLI v2 and current SDKs checksum uploads with CRC-64/NVME by default."""
    data = pattern(200_000, b"cli v2")
    value = b64(crt.crc64nvme(data).to_bytes(8, "big"))
    assert crt.crc64nvme(b"123456789") == 0xAE8B14860A799888  # the algorithm's check value
    headers = {
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "X-Amz-Trailer": "x-amz-checksum-crc64nvme",
        "X-Amz-Sdk-Checksum-Algorithm": "CRC64NVME",
    }
    status, _, _ = raw(
        "PUT", f"/{bucket}/v2", aws_chunked(data, f"x-amz-checksum-crc64nvme:{value}"), headers
    )
    assert status == 200
    got = s3.get_object(Bucket=bucket, Key="v2", ChecksumMode="ENABLED")
    assert got["ChecksumCRC64NVME"] == value
    assert got["Body"].read() == data
    wrong = aws_chunked(pattern(200_000, b"other"), f"x-amz-checksum-crc64nvme:{value}")
    status, _, answer_body = raw("PUT", f"/{bucket}/v2", wrong, headers)
    assert (status, error_code(answer_body)) == (400, "BadDigest")
    assert s3.get_object(Bucket=bucket, Key="v2")["Body"].read() == data


# ---------------------------------------------------------------- batch delete


def test_delete_objects_batch(s3: Any, bucket: str) -> None:
    keys = [f"batch/{i:03d}" for i in range(25)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    doomed = [*keys[:20:2], "batch/never-existed"]
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in doomed], "Quiet": False}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(doomed)
    assert result.get("Errors", []) == []
    assert all_keys(s3, bucket) == [k for k in keys if k not in doomed]

    quiet = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[20:]], "Quiet": True}
    )
    assert quiet.get("Deleted", []) == [] and quiet.get("Errors", []) == []
    assert all_keys(s3, bucket) == [k for k in keys[:20] if k not in doomed]


# ---------------------------------------------------------------- listings


LISTED = [
    "a.txt",
    "dir/",
    "dir/one.txt",
    "dir/sub/two.txt",
    "dir/sub/three.txt",
    "dir2/x",
    "e f/ü+%.bin",
    "z",
]


@pytest.fixture
def listed(s3: Any, bucket: str) -> str:
    for k in LISTED:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


def test_list_objects_v2_prefix_delimiter_and_entries(s3: Any, listed: str) -> None:
    everything = s3.list_objects_v2(Bucket=listed)
    assert [o["Key"] for o in everything["Contents"]] == sorted(LISTED)
    assert everything["KeyCount"] == len(LISTED)
    assert everything["IsTruncated"] is False
    first = everything["Contents"][0]
    assert first["Size"] == len(b"a.txt")
    assert first["ETag"] == f'"{hashlib.md5(b"a.txt").hexdigest()}"'
    assert first["StorageClass"] == "STANDARD"
    assert "Owner" not in first  # v2 lists owners only with FetchOwner
    assert s3.list_objects_v2(Bucket=listed, FetchOwner=True)["Contents"][0]["Owner"]["ID"]

    top = s3.list_objects_v2(Bucket=listed, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir/", "dir2/", "e f/"]
    assert top["KeyCount"] == 5

    inside = s3.list_objects_v2(Bucket=listed, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in inside["Contents"]] == ["dir/", "dir/one.txt"]
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["dir/sub/"]
    assert inside["Prefix"] == "dir/"

    assert s3.list_objects_v2(Bucket=listed, Prefix="nothing/").get("Contents", []) == []
    zero = s3.list_objects_v2(Bucket=listed, MaxKeys=0)
    assert zero["KeyCount"] == 0 and "Contents" not in zero


def test_list_objects_v2_pagination(s3: Any, listed: str) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listed, MaxKeys=3, **kwargs)
        pages += 1
        assert page["MaxKeys"] == 3 and page["KeyCount"] <= 3
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(LISTED) and pages == 3

    # pages with a delimiter count common prefixes too and never repeat them
    prefixes, keys = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=listed, Delimiter="/", PaginationConfig={"PageSize": 2}
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert keys == ["a.txt", "z"] and prefixes == ["dir/", "dir2/", "e f/"]

    after = s3.list_objects_v2(Bucket=listed, StartAfter="dir/sub/three.txt")
    assert [o["Key"] for o in after["Contents"]] == [
        "dir/sub/two.txt",
        "dir2/x",
        "e f/ü+%.bin",
        "z",
    ]
    assert after["StartAfter"] == "dir/sub/three.txt"


def test_list_objects_v1_marker_and_next_marker(s3: Any, listed: str) -> None:
    page = s3.list_objects(Bucket=listed, MaxKeys=2)
    assert [o["Key"] for o in page["Contents"]] == ["a.txt", "dir/"]
    assert page["IsTruncated"] is True
    assert page["Contents"][0]["Owner"]["ID"]  # v1 always lists owners
    page = s3.list_objects(Bucket=listed, Marker="dir/", MaxKeys=100)
    assert [o["Key"] for o in page["Contents"]] == sorted(LISTED)[2:]
    assert page["Marker"] == "dir/" and page["IsTruncated"] is False

    # with a delimiter, S3 returns NextMarker (the last key or common prefix)
    page = s3.list_objects(Bucket=listed, Delimiter="/", MaxKeys=2)
    assert [o["Key"] for o in page["Contents"]] == ["a.txt"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir/"]
    assert page["IsTruncated"] is True and page["NextMarker"] == "dir/"
    page = s3.list_objects(Bucket=listed, Delimiter="/", Marker=page["NextMarker"])
    assert [o["Key"] for o in page["Contents"]] == ["z"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir2/", "e f/"]

    collected: list[str] = []
    for p in s3.get_paginator("list_objects").paginate(
        Bucket=listed, PaginationConfig={"PageSize": 3}
    ):
        collected += [o["Key"] for o in p.get("Contents", [])]
    assert collected == sorted(LISTED)


def test_listing_with_encoding_type_url(s3: Any, listed: str) -> None:
    # Asked for explicitly, botocore leaves the encoded names alone: we see the wire values.
    v2 = s3.list_objects_v2(Bucket=listed, Prefix="e f/", Delimiter="/", EncodingType="url")
    assert v2["EncodingType"] == "url"
    # form encoding with "/" kept, as S3 does: botocore's own decoding is unquote_plus
    assert v2["Prefix"] == "e+f/"
    assert v2["Delimiter"] == "/"
    assert [o["Key"] for o in v2["Contents"]] == ["e+f/%C3%BC%2B%25.bin"]
    v1 = s3.list_objects(Bucket=listed, Prefix="e", Delimiter="/", EncodingType="url")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["e+f/"]
    v1 = s3.list_objects(Bucket=listed, Prefix="e f/", Marker="e f/", EncodingType="url")
    assert [unquote_plus(o["Key"]) for o in v1["Contents"]] == ["e f/ü+%.bin"]
    assert v1["Marker"] == "e+f/"
    # left to botocore, it asks for url encoding and decodes: the keys come back intact
    assert "e f/ü+%.bin" in all_keys(s3, listed)
    with s3_error("InvalidArgument", 400):
        s3.list_objects_v2(Bucket=listed, EncodingType="base64")


def test_control_characters_in_keys_list_with_url_encoding(s3: Any, bucket: str) -> None:
    key = "ctl/\x01bell\x07"  # not representable in XML 1.0 without url encoding
    s3.put_object(Bucket=bucket, Key=key, Body=b"c")
    assert all_keys(s3, bucket) == [key]  # botocore uses encoding-type=url by default
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"c"


# ---------------------------------------------------------------- copy


def test_copy_object_copy_and_replace_directives(s3: Any, bucket: str) -> None:
    data = pattern(400 * 1024)
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=data,
        ContentType="image/png",
        CacheControl="max-age=5",
        Metadata={"origin": "camera"},
        Tagging="kind=photo",
    )
    other = make_bucket(s3)
    copied = s3.copy_object(Bucket=other, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    etag = f'"{hashlib.md5(data).hexdigest()}"'
    assert copied["CopyObjectResult"]["ETag"] == etag
    got = s3.get_object(Bucket=other, Key="copy")
    assert got["Body"].read() == data
    assert got["ContentType"] == "image/png"
    assert got["CacheControl"] == "max-age=5"
    assert got["Metadata"] == {"origin": "camera"}
    assert s3.get_object_tagging(Bucket=other, Key="copy")["TagSet"] == [
        {"Key": "kind", "Value": "photo"}
    ]

    s3.copy_object(
        Bucket=bucket,
        Key="replaced",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        ContentType="text/plain",
        Metadata={"new": "meta"},
        TaggingDirective="REPLACE",
        Tagging="x=1",
    )
    got = s3.get_object(Bucket=bucket, Key="replaced")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"new": "meta"}
    assert "CacheControl" not in got
    assert s3.get_object_tagging(Bucket=bucket, Key="replaced")["TagSet"] == [
        {"Key": "x", "Value": "1"}
    ]

    # the source is untouched, and deleting it leaves the copies readable
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=other, Key="copy")["Body"].read() == data


def test_copy_onto_itself(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="self", Body=b"me", Metadata={"v": "1"})
    with s3_error("InvalidRequest", 400):
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    s3.copy_object(
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE",
        Metadata={"v": "2"},
    )
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"v": "2"} and got["Body"].read() == b"me"


def test_conditional_copy(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    etag = put["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    before, after = modified - timedelta(hours=1), modified + timedelta(hours=1)
    src = {"Bucket": bucket, "Key": "src"}
    wrong = '"0123456789abcdef0123456789abcdef"'

    s3.copy_object(Bucket=bucket, Key="ok1", CopySource=src, CopySourceIfMatch=etag)
    s3.copy_object(Bucket=bucket, Key="ok2", CopySource=src, CopySourceIfNoneMatch=wrong)
    s3.copy_object(Bucket=bucket, Key="ok3", CopySource=src, CopySourceIfModifiedSince=before)
    s3.copy_object(Bucket=bucket, Key="ok4", CopySource=src, CopySourceIfUnmodifiedSince=after)
    for failing in (
        {"CopySourceIfMatch": wrong},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": after},
        {"CopySourceIfUnmodifiedSince": before},
    ):
        with s3_error("PreconditionFailed", 412):
            s3.copy_object(Bucket=bucket, Key="no", CopySource=src, **failing)
    # S3's precedence: a true If-Match overrides a false If-Unmodified-Since; a true
    # If-None-Match overrides a false If-Modified-Since
    s3.copy_object(
        Bucket=bucket,
        Key="ok5",
        CopySource=src,
        CopySourceIfMatch=etag,
        CopySourceIfUnmodifiedSince=before,
    )
    s3.copy_object(
        Bucket=bucket,
        Key="ok6",
        CopySource=src,
        CopySourceIfNoneMatch=wrong,
        CopySourceIfModifiedSince=after,
    )
    assert all_keys(s3, bucket) == ["ok1", "ok2", "ok3", "ok4", "ok5", "ok6", "src"]
    assert s3.get_object(Bucket=bucket, Key="ok4")["Body"].read() == b"source"


def test_copy_from_missing_source(s3: Any, bucket: str) -> None:
    with s3_error("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "absent"})
    assert all_keys(s3, bucket) == []


# ---------------------------------------------------------------- tagging


def test_object_tagging_put_get_delete(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"tagged", Tagging="a=1&b=two%20words")
    assert (
        s3.head_object(Bucket=bucket, Key="t").get("ResponseMetadata")["HTTPHeaders"][
            "x-amz-tagging-count"
        ]
        == "2"
    )
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "two words")]

    s3.put_object_tagging(
        Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]}
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "env", "Value": "prod"}
    ]
    response = s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="t")["Body"].read() == b"tagged"

    with s3_error("NoSuchKey", 404):
        s3.put_object_tagging(Bucket=bucket, Key="absent", Tagging={"TagSet": []})
    with s3_error("InvalidTag", 400):
        s3.put_object_tagging(
            Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "aws:x", "Value": "1"}]}
        )
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    with s3_error("BadRequest", 400):
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": too_many})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []


# ---------------------------------------------------------------- presigned URLs


def test_presigned_get_and_put_with_a_plain_http_client(s3: Any, bucket: str) -> None:
    data = pattern(512 * 1024, b"presigned")
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre/signed file"}, ExpiresIn=300
    )
    request = urllib.request.Request(put_url, data=data, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200
        assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="pre/signed file")["Body"].read() == data

    get_url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "pre/signed file",
            "ResponseContentDisposition": "attachment",
        },
        ExpiresIn=300,
    )
    with urllib.request.urlopen(get_url, timeout=30) as r:
        assert r.status == 200
        assert r.headers["Content-Disposition"] == "attachment"
        assert r.read() == data
    ranged = urllib.request.Request(get_url, headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(ranged, timeout=30) as r:
        assert r.status == 206 and r.read() == data[100:200]


def test_encryption_and_storage_class_headers_s3_would_refuse_are_refused(
    s3: Any, bucket: str
) -> None:
    # S3-managed encryption (what AWS applies to everything) and any real storage class are fine
    s3.put_object(Bucket=bucket, Key="sse", Body=b"1", ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="ia", Body=b"2", StorageClass="STANDARD_IA")
    assert s3.get_object(Bucket=bucket, Key="ia")["Body"].read() == b"2"
    # what cannot be honoured here is refused, and nothing is stored
    with s3_error("NotImplemented", 501):
        s3.put_object(Bucket=bucket, Key="kms", Body=b"3", ServerSideEncryption="aws:kms")
    with s3_error("NotImplemented", 501):
        s3.create_multipart_upload(
            Bucket=bucket,
            Key="ssec",
            SSECustomerAlgorithm="AES256",
            SSECustomerKey="k" * 32,
        )
    with s3_error("InvalidStorageClass", 400):
        s3.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "sse"},
            StorageClass="FASTEST",
        )
    assert all_keys(s3, bucket) == ["ia", "sse"]
