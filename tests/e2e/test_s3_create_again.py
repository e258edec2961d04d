"""CreateBucket for a bucket you already own: S3 answers 200 in us-east-1 (its legacy
behaviour) and 409 BucketAlreadyOwnedByYou elsewhere; neither changes the bucket."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.e2e.s3_support import Raw, make_bucket, s3_error, unique
from tests.e2e.stack import Stack


def test_recreating_an_owned_us_east_1_bucket_succeeds_and_changes_nothing(
    s3: Any, stack: Stack
) -> None:
    name = make_bucket(s3)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="keep", Body=b"kept")
    before = next(b for b in s3.list_buckets()["Buckets"] if b["Name"] == name)

    again = s3.create_bucket(Bucket=name)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert again["Location"] == f"/{name}"
    # an explicit us-east-1 body is the same request
    raw = Raw(stack)
    body = (
        b"<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint>"
        b"</CreateBucketConfiguration>"
    )
    status, headers, _ = raw("PUT", f"/{name}", body)
    assert (status, headers.get("Location")) == (200, f"/{name}")

    after = next(b for b in s3.list_buckets()["Buckets"] if b["Name"] == name)
    assert after["CreationDate"] == before["CreationDate"]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert s3.get_object(Bucket=name, Key="keep")["Body"].read() == b"kept"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["keep"]


def test_recreating_an_owned_bucket_elsewhere_is_refused(s3: Any, stack: Stack) -> None:
    placed = make_bucket(s3, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=placed, Key="keep", Body=b"kept")
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(
            Bucket=placed, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    # asked in us-east-1 for a bucket that lives in eu-west-1: still 409
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=placed)
    assert s3.get_bucket_location(Bucket=placed)["LocationConstraint"] == "eu-west-1"
    assert s3.get_object(Bucket=placed, Key="keep")["Body"].read() == b"kept"

    # a us-east-1 bucket asked for in another region: 409 too
    plain = make_bucket(s3)
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(
            Bucket=plain, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    assert s3.get_bucket_location(Bucket=plain)["LocationConstraint"] is None


async def test_native_api_keeps_its_409(s3: Any, http: aiohttp.ClientSession) -> None:
    name = unique()
    async with http.post("/buckets", json={"name": name, "region": "us-east-1"}) as r:
        assert r.status == 201, await r.text()
    async with http.post("/buckets", json={"name": name, "region": "us-east-1"}) as r:
        assert r.status == 409
        assert (await r.json())["code"] == "BucketAlreadyOwnedByYou"
    # the same bucket through S3: the us-east-1 re-create answers 200
    assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    async with http.post("/buckets", json={"name": name}) as r:
        assert r.status == 409
