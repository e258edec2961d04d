"""Bad input gets the S3 error code and status AWS gives, and changes nothing that is stored."""

from __future__ import annotations

import hashlib
import time
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any
from urllib.error import HTTPError

import pytest

from tests.e2e.s3_support import (
    MIB,
    Raw,
    all_keys,
    b64,
    error_code,
    pattern,
    s3_error,
    unique,
)
from tests.e2e.stack import Stack

# ---------------------------------------------------------------- malformed XML


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>a</Key></Object>",  # cut short
        b"not xml at all",
        b"<Delete><Object><Nope>a</Nope></Object></Delete>",  # unknown element
        b"<Delete></Delete>",  # no objects
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "a">]><Delete><Object><Key>&e;</Key>'
        b"</Object></Delete>",
    ],
)
def test_malformed_delete_objects_body(s3: Any, raw: Raw, bucket: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"kept")
    md5 = {"Content-MD5": b64(hashlib.md5(body).digest())}
    status, _, answer = raw("POST", f"/{bucket}?delete", body, md5)
    assert (status, error_code(answer)) == (400, "MalformedXML")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"kept"


def test_malformed_settings_bodies_change_nothing(s3: Any, raw: Raw, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="t", Body=b"tagged", Tagging="keep=me")
    cors = [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors})
    cases = [
        ("PUT", f"/{bucket}?versioning", b"<VersioningConfiguration><Status>On</Status>"),
        ("PUT", f"/{bucket}?versioning", b"<VersioningConfiguration><Status>Suspended</Status>"),
        ("PUT", f"/{bucket}?cors", b"<CORSConfiguration/>"),
        ("PUT", f"/{bucket}?cors", b"<CORSConfiguration><CORSRule></CORSRule>"),
        ("PUT", f"/{bucket}/t?tagging", b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet>"),
        (
            "PUT",
            f"/{bucket}/t?tagging",
            b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
        ),
    ]
    for method, path, body in cases:
        status, _, answer = raw(method, path, body)
        assert (status, error_code(answer)) == (400, "MalformedXML"), (path, body)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == cors
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "keep", "Value": "me"}
    ]


def test_malformed_create_bucket_body_creates_nothing(s3: Any, raw: Raw) -> None:
    name = unique()
    body = b"<CreateBucketConfiguration><LocationConstraint>eu-west-1"
    status, _, answer = raw("PUT", f"/{name}", body)
    assert (status, error_code(answer)) == (400, "MalformedXML")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_malformed_complete_multipart_body(s3: Any, raw: Raw, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"p")[
        "ETag"
    ]
    for body in (
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
        b"</CompleteMultipartUpload>",
    ):
        status, _, answer = raw("POST", f"/{bucket}/mp?uploadId={upload_id}", body)
        assert (status, error_code(answer)) == (400, "MalformedXML"), body
    assert all_keys(s3, bucket) == []
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, etag)]


# ---------------------------------------------------------------- integrity


def test_wrong_content_md5(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    wrong = b64(hashlib.md5(b"something else").digest())
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"replacement", ContentMD5=wrong)
    with s3_error("InvalidDigest", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"replacement", ContentMD5="not-an-md5")
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="new", Body=pattern(MIB), ContentMD5=wrong)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"
    assert all_keys(s3, bucket) == ["k"]


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_wrong_checksum(s3: Any, bucket: str, algorithm: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    size = 32 if algorithm == "SHA256" else 20 if algorithm == "SHA1" else 4
    wrong = b64(bytes(size))
    for body in (b"replacement", pattern(MIB)):
        with s3_error("BadDigest", 400):
            s3.put_object(Bucket=bucket, Key="k", Body=body, **{f"Checksum{algorithm}": wrong})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ChecksumSHA256", "not base64!"),
        ("ChecksumSHA256", b64(b"too short")),
        ("ChecksumCRC32", b64(bytes(5))),
        ("ChecksumSHA1", b64(bytes(32))),
    ],
)
def test_malformed_checksum_value(s3: Any, bucket: str, header: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    with s3_error("InvalidRequest", 400) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"replacement", **{header: value})
    assert "header is invalid" in info.value.response["Error"]["Message"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


def test_wrong_part_checksum_and_md5(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    with s3_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            PartNumber=1,
            Body=b"part",
            ChecksumSHA256=b64(bytes(32)),
        )
    with s3_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            PartNumber=1,
            Body=b"part",
            ContentMD5=b64(hashlib.md5(b"other").digest()),
        )
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id).get("Parts", []) == []


# ---------------------------------------------------------------- authentication


def test_expired_presigned_url(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1
    )
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1
    )
    time.sleep(2.1)
    for request in (
        urllib.request.Request(get_url),
        urllib.request.Request(put_url, data=b"overwritten", method="PUT"),
    ):
        with pytest.raises(HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
        body = info.value.read()
        assert info.value.code == 403
        assert error_code(body) == "AccessDenied"
        assert ET.fromstring(body).findtext("Message") == "Request has expired"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"


def test_bad_signature_and_unknown_key(stack: Stack, s3: Any, bucket: str) -> None:
    import boto3
    from botocore.config import Config

    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    key, secret = stack.credentials
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    for access_key, secret_key, code in (
        (key, secret[:-1] + ("x" if secret[-1] != "x" else "y"), "SignatureDoesNotMatch"),
        ("AKIANOSUCHKEY0000000", secret, "InvalidAccessKeyId"),
    ):
        forged = boto3.client(
            "s3",
            endpoint_url=stack.s3_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name="us-east-1",
            config=config,
        )
        with s3_error(code, 403):
            forged.put_object(Bucket=bucket, Key="k", Body=b"forged")
        with s3_error(code, 403):
            forged.delete_object(Bucket=bucket, Key="k")
        with s3_error(code, 403):
            forged.create_bucket(Bucket=unique())
        with s3_error(code, 403):
            forged.list_objects_v2(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


def test_tampered_presigned_url(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300
    )
    tampered = url.replace(f"/{bucket}/k?", f"/{bucket}/other?")
    with pytest.raises(HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(tampered, data=b"x", method="PUT"))
    assert info.value.code == 403 and error_code(info.value.read()) == "SignatureDoesNotMatch"
    assert all_keys(s3, bucket) == ["k"]


def test_anonymous_requests_are_refused(stack: Stack, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"private")
    for request in (
        urllib.request.Request(f"{stack.s3_url}/{bucket}/k"),
        urllib.request.Request(f"{stack.s3_url}/{bucket}/k", data=b"x", method="PUT"),
        urllib.request.Request(f"{stack.s3_url}/{bucket}/k", method="DELETE"),
    ):
        with pytest.raises(HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
        assert info.value.code == 403 and error_code(info.value.read()) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"private"


# ---------------------------------------------------------------- multipart misuse


def test_invalid_part_order_and_unknown_parts(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [
        s3.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            PartNumber=n,
            Body=pattern(5 * MIB, f"part{n}".encode()),
        )["ETag"]
        for n in (1, 2)
    ]
    cases = [
        ("InvalidPartOrder", [(2, etags[1]), (1, etags[0])]),
        ("InvalidPartOrder", [(1, etags[0]), (1, etags[0])]),
        ("InvalidPart", [(1, etags[0]), (3, etags[1])]),  # never uploaded
        ("InvalidPart", [(1, etags[1]), (2, etags[1])]),  # wrong ETag for part 1
    ]
    for code, parts in cases:
        with s3_error(code, 400):
            s3.complete_multipart_upload(
                Bucket=bucket,
                Key="mp",
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )
    assert all_keys(s3, bucket) == []
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [p["ETag"] for p in listed] == etags
    # still completable after all that
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]
        },
    )
    assert s3.head_object(Bucket=bucket, Key="mp")["ContentLength"] == 10 * MIB


def test_missing_upload_id(s3: Any, raw: Raw, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="mp", Body=b"existing")
    made_up = "0" * 32
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=made_up, PartNumber=1, Body=b"x")
    with s3_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=made_up)
    with s3_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=made_up)
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=made_up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]},
        )
    # an upload id of another key is no upload of this one
    other = s3.create_multipart_upload(Bucket=bucket, Key="other")["UploadId"]
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=other, PartNumber=1, Body=b"x")
    # an empty uploadId parameter
    status, _, answer = raw("PUT", f"/{bucket}/mp?partNumber=1&uploadId=", b"x")
    assert (status, error_code(answer)) == (404, "NoSuchUpload")
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"existing"
    assert s3.list_parts(Bucket=bucket, Key="other", UploadId=other).get("Parts", []) == []


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_out_of_range(s3: Any, bucket: str, number: int) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    with s3_error("InvalidArgument", 400):
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=b"x")
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id).get("Parts", []) == []


# ---------------------------------------------------------------- keys, ranges, arguments


def test_key_too_long(s3: Any, bucket: str) -> None:
    longest = "k" * 1024
    s3.put_object(Bucket=bucket, Key=longest, Body=b"fits")
    too_long = "k" * 1025
    with s3_error("KeyTooLongError", 400):
        s3.put_object(Bucket=bucket, Key=too_long, Body=b"no")
    with s3_error("KeyTooLongError", 400):
        s3.create_multipart_upload(Bucket=bucket, Key=too_long)
    with s3_error("KeyTooLongError", 400):
        s3.copy_object(Bucket=bucket, Key=too_long, CopySource={"Bucket": bucket, "Key": longest})
    # bytes count, not characters: 513 two-byte characters are 1026 bytes
    with s3_error("KeyTooLongError", 400):
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"no")
    assert all_keys(s3, bucket) == [longest]
    assert s3.get_object(Bucket=bucket, Key=longest)["Body"].read() == b"fits"


def test_head_errors_have_no_body(raw: Raw, bucket: str) -> None:
    for path, status in (
        (f"/{bucket}/missing", 404),
        (f"/{unique()}", 404),
        (f"/{bucket}/missing?versionId={'0' * 32}", 404),
    ):
        got, headers, body = raw("HEAD", path)
        assert (got, body) == (status, b""), path
        assert headers["x-amz-request-id"]
    # the same GET carries S3's XML error document
    got, _, body = raw("GET", f"/{bucket}/missing")
    assert (got, error_code(body)) == (404, "NoSuchKey")


def test_range_past_the_end(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    with s3_error("InvalidRange", 416) as info:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    assert info.value.response["Error"]["ActualObjectSize"] == "10"
    assert info.value.response["Error"]["RangeRequested"] == "bytes=10-20"
    with s3_error("InvalidRange", 416):
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=100-")
    # an unparseable range is ignored, as S3 does: the whole object
    whole = s3.get_object(Bucket=bucket, Key="r", Range="bytes=5-2")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert whole["Body"].read() == b"0123456789"
    assert s3.get_object(Bucket=bucket, Key="r")["Body"].read() == b"0123456789"


def test_invalid_listing_arguments(s3: Any, raw: Raw, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    status, _, answer = raw("GET", f"/{bucket}?list-type=2&max-keys=-1")
    assert (status, error_code(answer)) == (400, "InvalidArgument")
    status, _, answer = raw("GET", f"/{bucket}?list-type=2&max-keys=ten")
    assert (status, error_code(answer)) == (400, "InvalidArgument")
    status, _, answer = raw("GET", f"/{bucket}?list-type=2&continuation-token=%25%25%25")
    assert (status, error_code(answer)) == (400, "InvalidArgument")
    assert all_keys(s3, bucket) == ["k"]


# ---------------------------------------------------------------- not implemented


def test_unimplemented_operations_answer_not_implemented(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"untouched")
    lifecycle = {
        "Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]
    }
    calls = [
        lambda b: s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=lifecycle),
        lambda b: s3.put_bucket_website(
            Bucket=b, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
        ),
        lambda b: s3.get_object_retention(Bucket=b, Key="k"),
        lambda b: s3.restore_object(Bucket=b, Key="k", RestoreRequest={"Days": 1}),
    ]
    for call in calls:
        with s3_error("NotImplemented", 501):
            call(bucket)
    # the body of the 501 is S3's XML error document
    with s3_error("NotImplemented", 501) as info:
        calls[0](bucket)
    assert info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/xml"
    )
    # a PUT of a bucket subresource on a bucket that does not exist must not create it
    ghost = unique()
    for call in calls[0], calls[1]:
        with s3_error("NotImplemented", 501):
            call(ghost)
    assert ghost not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # RestoreObject must not touch the object
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"untouched"
    assert all_keys(s3, bucket) == ["k"]


def test_conditional_writes_that_fail_or_are_unsupported_change_nothing(
    s3: Any, bucket: str
) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"protected")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"overwrite", IfNoneMatch="*")
    with s3_error("PreconditionFailed", 412):
        s3.put_object(
            Bucket=bucket,
            Key="k",
            Body=b"overwrite",
            IfMatch=etag.replace("a", "b").replace("1", "2"),
        )
    with s3_error("NotImplemented", 501):  # If-None-Match takes only "*" on a write, as AWS
        s3.put_object(Bucket=bucket, Key="k", Body=b"overwrite", IfNoneMatch=etag)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"p")
    with s3_error("PreconditionFailed", 412):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            IfNoneMatch="*",
        )
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"protected" and got["ETag"] == etag
