"""Bucket operations through boto3 against the running stack (real nats-server, real storage)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.s3_support import make_bucket, s3_error, unique


def test_create_list_head_location_delete(s3: Any) -> None:
    plain, placed = unique(), unique()
    assert s3.create_bucket(Bucket=plain)["Location"] == f"/{plain}"
    s3.create_bucket(Bucket=placed, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    listed = s3.list_buckets()
    names = [b["Name"] for b in listed["Buckets"]]
    assert {plain, placed} <= set(names)
    assert names == sorted(names)
    assert listed["Owner"]["ID"] and listed["Owner"]["DisplayName"] == "root"
    assert all(b["CreationDate"].tzinfo is not None for b in listed["Buckets"])

    head = s3.head_bucket(Bucket=placed)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["BucketRegion"] == "eu-west-1"
    assert s3.head_bucket(Bucket=plain)["BucketRegion"] == "us-east-1"

    # us-east-1 is reported as an empty LocationConstraint, as S3 does
    assert s3.get_bucket_location(Bucket=plain)["LocationConstraint"] is None
    assert s3.get_bucket_location(Bucket=placed)["LocationConstraint"] == "eu-west-1"

    for name in (plain, placed):
        response = s3.delete_bucket(Bucket=name)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert plain not in names and placed not in names
    with s3_error("404", 404):  # HEAD: no body, botocore reports the status
        s3.head_bucket(Bucket=plain)
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_location(Bucket=placed)


def test_create_existing_bucket_is_refused_and_keeps_it(s3: Any) -> None:
    name = make_bucket(s3, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket=name, Key="keep", Body=b"kept")
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-central-1"
    assert s3.get_object(Bucket=name, Key="keep")["Body"].read() == b"kept"


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "under_score", "-dash-first", "a" * 64])
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    with s3_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_delete_bucket_refuses_when_not_empty_and_when_missing(s3: Any) -> None:
    name = make_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=name)
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with s3_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=name)


def test_operations_on_a_missing_bucket(s3: Any) -> None:
    missing = unique()
    with s3_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=missing)
    with s3_error("NoSuchBucket", 404):
        s3.put_object(Bucket=missing, Key="k", Body=b"v")
    with s3_error("NoSuchBucket", 404):
        s3.get_object(Bucket=missing, Key="k")
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_versioning(Bucket=missing)
    assert missing not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_cors_put_get_delete(s3: Any) -> None:
    name = make_bucket(s3)
    with s3_error("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=name)
    rules = [
        {
            "ID": "web",
            "AllowedMethods": ["GET", "PUT"],
            "AllowedOrigins": ["https://example.com", "https://*.example.org"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": 3000,
        },
        {"AllowedMethods": ["HEAD"], "AllowedOrigins": ["*"]},
    ]
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"] == rules

    # a new configuration replaces the old one whole
    s3.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
    )
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"] == [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}
    ]

    response = s3.delete_bucket_cors(Bucket=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=name)


def test_bucket_cors_rejects_bad_rules_and_keeps_the_old_ones(s3: Any) -> None:
    name = make_bucket(s3)
    good = [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://a.example"]}]
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": good})
    with s3_error("InvalidRequest", 400):
        s3.put_bucket_cors(
            Bucket=name,
            CORSConfiguration={
                "CORSRules": [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]
            },
        )
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"] == good


def test_bucket_tagging_put_get_replace_delete(s3: Any) -> None:
    name = make_bucket(s3)
    with s3_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=name)
    tags = [{"Key": "team", "Value": "data"}, {"Key": "cost center", "Value": "42 / é"}]
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    assert sorted(s3.get_bucket_tagging(Bucket=name)["TagSet"], key=lambda t: t["Key"]) == sorted(
        tags, key=lambda t: t["Key"]
    )
    # a new tag set replaces the old one whole
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "env", "Value": "prod"}]
    # bad tag sets are refused and leave the stored one alone
    with s3_error("InvalidTag", 400):
        s3.put_bucket_tagging(
            Bucket=name, Tagging={"TagSet": [{"Key": "aws:owner", "Value": "me"}]}
        )
    with s3_error("BadRequest", 400):
        s3.put_bucket_tagging(
            Bucket=name,
            Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
        )
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "env", "Value": "prod"}]
    # 50 tags are allowed on a bucket (objects take 10)
    fifty = [{"Key": f"k{i:02d}", "Value": "v"} for i in range(50)]
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": fifty})
    assert len(s3.get_bucket_tagging(Bucket=name)["TagSet"]) == 50

    response = s3.delete_bucket_tagging(Bucket=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=name)
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_tagging(Bucket=unique("missing"))
