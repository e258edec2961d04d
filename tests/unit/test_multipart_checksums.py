"""A multipart upload's object checksum, made from its parts' checksums as S3 defines it."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import crc32c
import pytest
from awscrt import checksums as crt

from events.s3 import CompleteMultipartUpload, MultipartUploadCreated, ObjectPut, PartUploaded
from handlers.decision import Appends, Reject
from handlers.s3 import decide
from handlers.s3.state import fold_upload
from storage import checksums
from tests.unit.test_s3_decide import bucket, cmd, stored

MiB = 1024 * 1024
CRCS = {
    "CRC32": (lambda b: zlib.crc32(b), 4),
    "CRC32C": (lambda b: crc32c.crc32c(b), 4),
    "CRC64NVME": (lambda b: crt.crc64nvme(b), 8),
}
HASHES = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc(algorithm: str, data: bytes) -> str:
    fn, size = CRCS[algorithm]
    return b64(fn(data).to_bytes(size, "big"))


def part_values(algorithm: str, parts: list[bytes]) -> list[tuple[str, int]]:
    if algorithm in CRCS:
        return [(crc(algorithm, p), len(p)) for p in parts]
    return [(b64(HASHES[algorithm](p).digest()), len(p)) for p in parts]


@pytest.mark.parametrize("algorithm", sorted(CRCS))
def test_full_object_crc_equals_the_crc_of_the_whole_object(algorithm: str) -> None:
    parts = [os.urandom(n) for n in (1000, 1, 4097, 70_000)]
    got = checksums.multipart(algorithm, checksums.FULL_OBJECT, part_values(algorithm, parts))
    assert got == crc(algorithm, b"".join(parts))
    assert checksums.checksum_type(got) == checksums.FULL_OBJECT
    one = checksums.multipart(algorithm, checksums.FULL_OBJECT, part_values(algorithm, parts[:1]))
    assert one == crc(algorithm, parts[0])


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_is_the_checksum_of_the_part_checksums_with_the_part_count(
    algorithm: str,
) -> None:
    parts = [b"a" * 10, b"b" * 20, b"c"]
    values = part_values(algorithm, parts)
    raw = b"".join(base64.b64decode(v) for v, _ in values)
    expected = crc(algorithm, raw) if algorithm in CRCS else b64(HASHES[algorithm](raw).digest())
    got = checksums.multipart(algorithm, checksums.COMPOSITE, values)
    assert got == f"{expected}-3"
    assert checksums.checksum_type(got) == checksums.COMPOSITE


def test_defaults_and_allowed_types_follow_s3() -> None:
    assert checksums.default_type("CRC64NVME") == checksums.FULL_OBJECT
    assert checksums.default_type("CRC32") == checksums.COMPOSITE
    assert checksums.TYPES["SHA256"] == (checksums.COMPOSITE,)


def upload(algorithm: str | None, kind: str | None, parts: list[bytes], *, skip: int = 0):
    events = [
        stored(
            1,
            MultipartUploadCreated(
                bucket="photos",
                key="k",
                upload_id="u1",
                initiator="root",
                checksum_algorithm=algorithm,
                checksum_type=kind,
            ),
        )
    ]
    for n, body in enumerate(parts, 1):
        values = {} if algorithm is None or n == skip else {algorithm: crc(algorithm, body)}
        events.append(
            stored(
                1 + n,
                PartUploaded(
                    bucket="photos",
                    key="k",
                    upload_id="u1",
                    part_number=n,
                    blob_id=f"p{n}",
                    size=len(body),
                    etag=hashlib.md5(body).hexdigest(),
                    sha256="s",
                    checksums=values,
                    replicas=["disk"],
                ),
            )
        )
    return fold_upload(events)


def complete(parts: list[bytes], expected: dict[str, str] | None = None):
    return cmd(
        CompleteMultipartUpload(
            bucket="photos",
            key="k",
            upload_id="u1",
            parts=[(n, hashlib.md5(b).hexdigest()) for n, b in enumerate(parts, 1)],
            checksums=expected or {},
        )
    )


PARTS = [b"x" * (5 * MiB), b"tail"]


def test_complete_records_the_full_object_checksum_and_checks_the_expected_one() -> None:
    whole = crc("CRC64NVME", b"".join(PARTS))
    u = upload("CRC64NVME", None, PARTS)
    d = decide.complete_multipart(complete(PARTS, {"CRC64NVME": whole}), bucket(), u)
    assert isinstance(d, Appends)
    put = d.steps[0].data
    assert isinstance(put, ObjectPut) and put.checksums == {"CRC64NVME": whole}
    wrong = decide.complete_multipart(
        complete(PARTS, {"CRC64NVME": crc("CRC64NVME", b"other")}), bucket(), u
    )
    assert isinstance(wrong, Reject) and wrong.code == "BadDigest"


def test_complete_records_a_composite_checksum_by_default_for_crc32() -> None:
    d = decide.complete_multipart(complete(PARTS), bucket(), upload("CRC32", None, PARTS))
    assert isinstance(d, Appends)
    value = d.steps[0].data.checksums["CRC32"]  # type: ignore[union-attr]
    assert value.endswith("-2")


def test_no_object_checksum_without_an_algorithm_or_when_a_part_has_none() -> None:
    for u in (upload(None, None, PARTS), upload("CRC32", None, PARTS, skip=2)):
        d = decide.complete_multipart(complete(PARTS), bucket(), u)
        assert isinstance(d, Appends) and d.steps[0].data.checksums == {}  # type: ignore[union-attr]
