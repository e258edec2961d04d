"""Multipart uploads through boto3 against the stack: S3's ETag, part-size and ordering rules."""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.s3_support import MIB, all_keys, pattern, s3_error
from tests.e2e.stack import Stack


@pytest.fixture(scope="module")
def s3(stack: Stack) -> Any:
    return stack.boto3(read_timeout=120)


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def upload_parts(s3: Any, bucket: str, key: str, upload_id: str, parts: list[bytes]) -> list[Any]:
    done = []
    for number, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
        assert r["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        done.append({"PartNumber": number, "ETag": r["ETag"]})
    return done


def open_uploads(s3: Any, bucket: str, **kwargs: Any) -> list[tuple[str, str]]:
    listed = s3.list_multipart_uploads(Bucket=bucket, **kwargs)
    return [(u["Key"], u["UploadId"]) for u in listed.get("Uploads", [])]


def test_five_part_upload_of_50_mib_verified_by_sha256(s3: Any, bucket: str) -> None:
    key = "big/fifty.bin"
    parts = [pattern(10 * MIB, f"part{i}".encode()) for i in range(5)]
    expected = hashlib.sha256(b"".join(parts)).hexdigest()
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType="application/x-fifty", Metadata={"n": "5"}
    )
    upload_id = created["UploadId"]
    assert created["Bucket"] == bucket and created["Key"] == key
    assert open_uploads(s3, bucket) == [(key, upload_id)]

    done = upload_parts(s3, bucket, key, upload_id, parts)
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [
        (d["PartNumber"], d["ETag"], 10 * MIB) for d in done
    ]
    assert listed["IsTruncated"] is False
    assert all_keys(s3, bucket) == []  # nothing visible before Complete

    result = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert result["ETag"] == multipart_etag(parts)
    assert result["Bucket"] == bucket and result["Key"] == key
    assert open_uploads(s3, bucket) == []
    with s3_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == 50 * MIB
    assert head["ETag"] == multipart_etag(parts)
    assert head["ContentType"] == "application/x-fifty"
    assert head["Metadata"] == {"n": "5"}
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-mp-parts-count"] == "5"

    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(MIB):
        digest.update(chunk)
        size += len(chunk)
    assert size == 50 * MIB and digest.hexdigest() == expected

    # one part by its number, as s3transfer-style parallel downloads ask
    third = s3.get_object(Bucket=bucket, Key=key, PartNumber=3)
    assert third["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert third["PartsCount"] == 5
    assert third["ContentRange"] == f"bytes {20 * MIB}-{30 * MIB - 1}/{50 * MIB}"
    assert hashlib.sha256(third["Body"].read()).digest() == hashlib.sha256(parts[2]).digest()
    with s3_error("InvalidPartNumber", 416):
        s3.get_object(Bucket=bucket, Key=key, PartNumber=6)

    # a range across the boundary between parts 2 and 3
    start = 20 * MIB - 100
    ranged = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + 199}")
    assert ranged["Body"].read() == parts[1][-100:] + parts[2][:100]


def test_part_size_rules(s3: Any, bucket: str) -> None:
    small = [pattern(MIB, b"one"), pattern(MIB, b"two")]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    done = upload_parts(s3, bucket, "small", upload_id, small)
    with s3_error("EntityTooSmall", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=upload_id, MultipartUpload={"Parts": done}
        )
    # refused: no object, and the upload is still open with its parts
    assert all_keys(s3, bucket) == []
    assert len(s3.list_parts(Bucket=bucket, Key="small", UploadId=upload_id)["Parts"]) == 2

    # every part but the last must be >= 5 MiB: exactly 5 MiB then one byte is fine
    parts = [pattern(5 * MIB, b"five"), b"!"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ok")["UploadId"]
    done = upload_parts(s3, bucket, "ok", upload_id, parts)
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="ok", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert result["ETag"] == multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key="ok")["Body"].read() == b"".join(parts)

    # a single small part is a valid upload (the last part may be any size)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="one")["UploadId"]
    done = upload_parts(s3, bucket, "one", upload_id, [b"tiny"])
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="one", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert result["ETag"] == multipart_etag([b"tiny"])
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"tiny"


def test_complete_with_a_subset_of_parts_and_a_replaced_part(s3: Any, bucket: str) -> None:
    key = "subset"
    a, b, c = (pattern(5 * MIB, seed) for seed in (b"a", b"b", b"c"))
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    upload_parts(s3, bucket, key, upload_id, [a, b, c, b"tail"])
    # upload part 2 again with other bytes: the newest one counts
    b2 = pattern(5 * MIB, b"b2")
    r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=b2)
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2, 3, 4]
    assert parts[1]["ETag"] == r["ETag"]
    # parts 2 and 4 only: numbers need not start at 1 nor be contiguous
    chosen = [{"PartNumber": 2, "ETag": r["ETag"]}, {"PartNumber": 4, "ETag": parts[3]["ETag"]}]
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": chosen}
    )
    assert result["ETag"] == multipart_etag([b2, b"tail"])
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b2 + b"tail"


def test_abort(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    upload_parts(s3, bucket, "gone", upload_id, [b"x" * 1000])
    response = s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert open_uploads(s3, bucket) == []
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload_id, PartNumber=2, Body=b"y")
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="gone",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "whatever"}]},
        )
    with s3_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id)
    assert all_keys(s3, bucket) == []
    s3.delete_bucket(Bucket=bucket)  # nothing was left behind


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = pattern(7 * MIB, b"source")
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    whole = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"},
    )
    assert whole["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source).hexdigest()}"'
    ranged = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange="bytes=100-1099",
    )
    piece = source[100:1100]
    assert ranged["CopyPartResult"]["ETag"] == f'"{hashlib.md5(piece).hexdigest()}"'
    parts = s3.list_parts(Bucket=bucket, Key="assembled", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 7 * MIB), (2, 1000)]
    done = [
        {"PartNumber": 1, "ETag": whole["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": ranged["CopyPartResult"]["ETag"]},
    ]
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="assembled", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert result["ETag"] == multipart_etag([source, piece])
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source + piece

    with s3_error("NoSuchKey", 404):
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="x")["UploadId"]
        s3.upload_part_copy(
            Bucket=bucket,
            Key="x",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "absent"},
        )


def test_upload_part_copy_conditions(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"copy me")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    hour = timedelta(hours=1)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    copy = {"Bucket": bucket, "Key": "dst", "UploadId": upload_id, "PartNumber": 1}
    src = {"Bucket": bucket, "Key": "src"}
    for failing in (
        {"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": modified + hour},
        {"CopySourceIfUnmodifiedSince": modified - hour},
    ):
        with s3_error("PreconditionFailed", 412):
            s3.upload_part_copy(CopySource=src, **copy, **failing)
    assert s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id).get("Parts", []) == []
    done = s3.upload_part_copy(
        CopySource=src, CopySourceIfMatch=etag, CopySourceIfModifiedSince=modified - hour, **copy
    )
    assert done["CopyPartResult"]["ETag"] == etag


def test_list_parts_and_uploads_pagination(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="paged")["UploadId"]
    upload_parts(s3, bucket, "paged", upload_id, [b"1", b"2", b"3", b"4", b"5"])
    first = s3.list_parts(Bucket=bucket, Key="paged", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(
        Bucket=bucket, Key="paged", UploadId=upload_id, PartNumberMarker=2, MaxParts=10
    )
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4, 5]
    assert rest["IsTruncated"] is False
    assert rest["Initiator"]["DisplayName"] and rest["Owner"]["ID"]

    others = {
        key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        for key in ("logs/a", "logs/b", "other")
    }
    again = s3.create_multipart_upload(Bucket=bucket, Key="logs/a")["UploadId"]
    assert again != others["logs/a"]  # several uploads of one key may be open at once
    everything = open_uploads(s3, bucket)
    expected = [("paged", upload_id), ("logs/a", again), *others.items()]
    assert sorted(everything) == sorted(expected)
    assert [k for k, _ in everything] == sorted(k for k, _ in everything)
    assert sorted(open_uploads(s3, bucket, Prefix="logs/")) == sorted(
        [("logs/a", others["logs/a"]), ("logs/a", again), ("logs/b", others["logs/b"])]
    )
    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert page["IsTruncated"] is True and len(page["Uploads"]) == 2
    following = s3.list_multipart_uploads(
        Bucket=bucket,
        KeyMarker=page["NextKeyMarker"],
        UploadIdMarker=page["NextUploadIdMarker"],
    )
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"] + following["Uploads"]] == (
        everything
    )


def test_metadata_and_tags_of_the_upload_reach_the_object(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(
        Bucket=bucket,
        Key="meta",
        ContentType="text/csv",
        ContentDisposition="inline",
        CacheControl="no-cache",
        Metadata={"source": "sensor-7"},
        Tagging="team=data",
    )["UploadId"]
    done = upload_parts(s3, bucket, "meta", upload_id, [b"a,b\n1,2\n"])
    s3.complete_multipart_upload(
        Bucket=bucket, Key="meta", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    got = s3.get_object(Bucket=bucket, Key="meta")
    assert got["Body"].read() == b"a,b\n1,2\n"
    assert got["ContentType"] == "text/csv"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "no-cache"
    assert got["Metadata"] == {"source": "sensor-7"}
    assert s3.get_object_tagging(Bucket=bucket, Key="meta")["TagSet"] == [
        {"Key": "team", "Value": "data"}
    ]


def test_upload_part_checksum_is_verified_and_listed(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="summed", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    body = pattern(100_000, b"summed")
    r = s3.upload_part(
        Bucket=bucket,
        Key="summed",
        UploadId=upload_id,
        PartNumber=1,
        Body=body,
        ChecksumAlgorithm="SHA256",
    )
    expected = hashlib.sha256(body).digest()
    assert r["ChecksumSHA256"] == base64.b64encode(expected).decode()
    parts = s3.list_parts(Bucket=bucket, Key="summed", UploadId=upload_id)["Parts"]
    assert parts[0]["ChecksumSHA256"] == r["ChecksumSHA256"]

    # CompleteMultipartUpload naming another checksum for the part: InvalidPart, nothing stored
    wrong = base64.b64encode(bytes(32)).decode()
    with s3_error("InvalidPart", 400):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="summed",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumSHA256": wrong}]
            },
        )
    assert all_keys(s3, bucket) == []
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="summed",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="summed")["Body"].read() == body


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _crc64nvme(data: bytes) -> str:
    from awscrt import checksums

    return _b64(checksums.crc64nvme(data).to_bytes(8, "big"))


def _upload_summed(
    s3: Any, bucket: str, key: str, upload_id: str, parts: list[bytes], algorithm: str
) -> list[dict[str, Any]]:
    done = []
    for number, body in enumerate(parts, 1):
        r = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=algorithm,
        )
        field = f"Checksum{algorithm}"
        done.append({"PartNumber": number, "ETag": r["ETag"], field: r[field]})
    return done


def test_full_object_crc64nvme_of_a_multipart_upload_is_verified_and_returned(
    s3: Any, bucket: str
) -> None:
    """What the AWS CLI v2 sends for a big file: CRC-64/NVME parts and the whole object's CRC."""
    parts = [pattern(5 * MIB, b"full"), b"and the tail"]
    whole = _crc64nvme(b"".join(parts))
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="full", ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == ("CRC64NVME", "FULL_OBJECT")
    upload_id = created["UploadId"]
    done = _upload_summed(s3, bucket, "full", upload_id, parts, "CRC64NVME")
    assert done[1]["ChecksumCRC64NVME"] == _crc64nvme(parts[1])

    # a whole-object checksum that is not the object's: BadDigest, and nothing is stored
    with s3_error("BadDigest", 400):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="full",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            ChecksumCRC64NVME=_crc64nvme(b"something else"),
            ChecksumType="FULL_OBJECT",
        )
    assert all_keys(s3, bucket) == []

    r = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="full",
        UploadId=upload_id,
        MultipartUpload={"Parts": done},
        ChecksumCRC64NVME=whole,
        ChecksumType="FULL_OBJECT",
    )
    assert (r["ChecksumCRC64NVME"], r["ChecksumType"]) == (whole, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC64NVME"], head["ChecksumType"]) == (whole, "FULL_OBJECT")
    # botocore checks the body it reads against a full-object checksum
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["ChecksumCRC64NVME"] == whole
    assert got["Body"].read() == b"".join(parts)


def test_composite_sha256_of_a_multipart_upload(s3: Any, bucket: str) -> None:
    parts = [pattern(5 * MIB, b"comp"), pattern(1000, b"end")]
    created = s3.create_multipart_upload(Bucket=bucket, Key="comp", ChecksumAlgorithm="SHA256")
    assert created["ChecksumType"] == "COMPOSITE"  # S3's default for SHA-256
    done = _upload_summed(s3, bucket, "comp", created["UploadId"], parts, "SHA256")
    r = s3.complete_multipart_upload(
        Bucket=bucket, Key="comp", UploadId=created["UploadId"], MultipartUpload={"Parts": done}
    )
    digests = b"".join(hashlib.sha256(p).digest() for p in parts)
    expected = f"{_b64(hashlib.sha256(digests).digest())}-2"
    assert (r["ChecksumSHA256"], r["ChecksumType"]) == (expected, "COMPOSITE")
    head = s3.head_object(Bucket=bucket, Key="comp", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (expected, "COMPOSITE")


def test_multipart_checksum_settings_s3_refuses(s3: Any, bucket: str) -> None:
    for algorithm, kind in (("SHA256", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")):
        with s3_error("InvalidRequest", 400):
            s3.create_multipart_upload(
                Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, ChecksumType=kind
            )
    assert open_uploads(s3, bucket) == []
    # a part checksummed with another algorithm than its upload's
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32C")[
        "UploadId"
    ]
    with s3_error("InvalidRequest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=1,
            Body=b"x",
            ChecksumAlgorithm="SHA1",
        )
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []


def test_parts_sent_without_a_checksum_get_their_uploads_algorithm(
    stack: Stack, bucket: str
) -> None:
    plain = stack.boto3(request_checksum_calculation="when_required")
    parts = [pattern(5 * MIB, b"plain"), b"tail"]
    upload_id = plain.create_multipart_upload(
        Bucket=bucket, Key="p", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    done = upload_parts(plain, bucket, "p", upload_id, parts)
    r = plain.complete_multipart_upload(
        Bucket=bucket, Key="p", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert r["ChecksumCRC32"] == _b64(zlib.crc32(b"".join(parts)).to_bytes(4, "big"))
