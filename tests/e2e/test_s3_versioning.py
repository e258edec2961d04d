"""Bucket versioning through boto3 against the stack: version ids, delete markers, by-version
reads and deletes, suspension."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.s3_support import all_keys, make_bucket, s3_error

MISSING_VERSION = "0" * 32


@pytest.fixture
def versioned(s3: Any) -> str:
    name = make_bucket(s3)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def versions(s3: Any, bucket: str, **kwargs: Any) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is delete marker), in S3's order (key, newest first)."""
    listed = s3.list_object_versions(Bucket=bucket, **kwargs)
    rows = [(v["Key"], v["VersionId"], v["IsLatest"], False, v) for v in listed.get("Versions", [])]
    rows += [
        (m["Key"], m["VersionId"], m["IsLatest"], True, m) for m in listed.get("DeleteMarkers", [])
    ]
    rows.sort(key=lambda r: (r[0], -r[4]["LastModified"].timestamp()))
    return [r[:4] for r in rows]


def test_versioning_configuration(s3: Any) -> None:
    name = make_bucket(s3)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)  # never enabled
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"


def test_versioned_round_trip(s3: Any, versioned: str) -> None:
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="doc", Body=b"first")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="doc", Body=b"second")["VersionId"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2)

    latest = s3.get_object(Bucket=b, Key="doc")
    assert latest["Body"].read() == b"second" and latest["VersionId"] == v2
    old = s3.get_object(Bucket=b, Key="doc", VersionId=v1)
    assert old["Body"].read() == b"first" and old["VersionId"] == v1
    assert s3.head_object(Bucket=b, Key="doc", VersionId=v1)["ContentLength"] == 5
    assert versions(s3, b) == [("doc", v2, True, False), ("doc", v1, False, False)]

    # a plain delete puts a delete marker on top; nothing is removed
    deleted = s3.delete_object(Bucket=b, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker not in (v1, v2)
    assert versions(s3, b) == [
        ("doc", marker, True, True),
        ("doc", v2, False, False),
        ("doc", v1, False, False),
    ]
    assert all_keys(s3, b) == []
    with s3_error("NoSuchKey", 404) as info:
        s3.get_object(Bucket=b, Key="doc")
    headers = info.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker
    with s3_error("404", 404) as info:
        s3.head_object(Bucket=b, Key="doc")
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    # addressing the marker itself: 405
    with s3_error("MethodNotAllowed", 405) as info:
        s3.get_object(Bucket=b, Key="doc", VersionId=marker)
    headers = info.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and "last-modified" in headers
    with s3_error("405", 405) as info:
        s3.head_object(Bucket=b, Key="doc", VersionId=marker)
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    # older versions stay readable by id
    assert s3.get_object(Bucket=b, Key="doc", VersionId=v2)["Body"].read() == b"second"

    # deleting the marker by version id brings the object back
    undone = s3.delete_object(Bucket=b, Key="doc", VersionId=marker)
    assert undone["DeleteMarker"] is True and undone["VersionId"] == marker
    assert s3.get_object(Bucket=b, Key="doc")["Body"].read() == b"second"
    assert all_keys(s3, b) == ["doc"]

    # deleting the latest version for good makes the previous one current
    gone = s3.delete_object(Bucket=b, Key="doc", VersionId=v2)
    assert gone["VersionId"] == v2 and "DeleteMarker" not in gone
    assert s3.get_object(Bucket=b, Key="doc")["Body"].read() == b"first"
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=b, Key="doc", VersionId=v2)
    assert versions(s3, b) == [("doc", v1, True, False)]

    s3.delete_object(Bucket=b, Key="doc", VersionId=v1)
    assert versions(s3, b) == []
    s3.delete_bucket(Bucket=b)  # nothing left: the bucket can go


def test_version_listing_prefix_delimiter_and_pagination(s3: Any, versioned: str) -> None:
    b = versioned
    ids: dict[str, list[str]] = {}
    for key in ("a", "b", "dir/x"):
        for i in range(3):
            ids.setdefault(key, []).append(
                s3.put_object(Bucket=b, Key=key, Body=f"{key}{i}".encode())["VersionId"]
            )
    listed = s3.list_object_versions(Bucket=b)
    assert [(v["Key"], v["VersionId"]) for v in listed["Versions"]] == [
        (k, vid) for k in ("a", "b", "dir/x") for vid in reversed(ids[k])
    ]
    assert all(v["Size"] == len(v["Key"]) + 1 for v in listed["Versions"])
    assert [v["IsLatest"] for v in listed["Versions"][:3]] == [True, False, False]

    only_dir = s3.list_object_versions(Bucket=b, Prefix="dir/")
    assert [v["VersionId"] for v in only_dir["Versions"]] == list(reversed(ids["dir/x"]))
    top = s3.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in top["Versions"]} == {"a", "b"}

    page = s3.list_object_versions(Bucket=b, MaxKeys=4)
    assert page["IsTruncated"] is True and len(page["Versions"]) == 4
    assert (page["NextKeyMarker"], page["NextVersionIdMarker"]) == ("b", ids["b"][2])
    rest = s3.list_object_versions(
        Bucket=b, KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"]
    )
    assert [v["VersionId"] for v in page["Versions"] + rest["Versions"]] == [
        v["VersionId"] for v in listed["Versions"]
    ]
    collected = []
    for p in s3.get_paginator("list_object_versions").paginate(
        Bucket=b, PaginationConfig={"PageSize": 2}
    ):
        collected += [v["VersionId"] for v in p.get("Versions", [])]
    assert collected == [v["VersionId"] for v in listed["Versions"]]


def test_suspended_versioning_uses_the_null_version(s3: Any, versioned: str) -> None:
    b = versioned
    kept = s3.put_object(Bucket=b, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=b, Key="k", Body=b"null one")
    s3.put_object(Bucket=b, Key="k", Body=b"null two")  # replaces the null version
    assert versions(s3, b) == [("k", "null", True, False), ("k", kept, False, False)]
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"null two"
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"null two"
    assert s3.get_object(Bucket=b, Key="k", VersionId=kept)["Body"].read() == b"versioned"

    # a delete in a suspended bucket puts a "null" delete marker over the null version
    deleted = s3.delete_object(Bucket=b, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    assert versions(s3, b) == [("k", "null", True, True), ("k", kept, False, False)]
    assert s3.get_object(Bucket=b, Key="k", VersionId=kept)["Body"].read() == b"versioned"

    s3.put_object(Bucket=b, Key="j", Body=b"j")
    result = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "j"}]})
    assert result["Deleted"] == [
        {"Key": "j", "DeleteMarker": True, "DeleteMarkerVersionId": "null"}
    ]


def test_unversioned_objects_become_the_null_version(s3: Any) -> None:
    b = make_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"before")
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v = s3.put_object(Bucket=b, Key="k", Body=b"after")["VersionId"]
    assert versions(s3, b) == [("k", v, True, False), ("k", "null", False, False)]
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"before"


def test_missing_versions(s3: Any, versioned: str) -> None:
    b = versioned
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=b, Key="k", VersionId=MISSING_VERSION)
    # deleting a version that does not exist is a no-op 204, like every S3 delete
    response = s3.delete_object(Bucket=b, Key="k", VersionId=MISSING_VERSION)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v"


def test_delete_objects_in_a_versioned_bucket(s3: Any, versioned: str) -> None:
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="x", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="x", Body=b"2")["VersionId"]
    s3.put_object(Bucket=b, Key="y", Body=b"y")
    result = s3.delete_objects(
        Bucket=b,
        Delete={"Objects": [{"Key": "x", "VersionId": v1}, {"Key": "y"}]},
    )
    by_key = {d["Key"]: d for d in result["Deleted"]}
    assert by_key["x"]["VersionId"] == v1
    assert by_key["y"]["DeleteMarker"] is True and by_key["y"]["DeleteMarkerVersionId"]
    assert result.get("Errors", []) == []
    assert all_keys(s3, b) == ["x"]
    assert [vid for key, vid, _, _ in versions(s3, b) if key == "x"] == [v2]
    marker = by_key["y"]["DeleteMarkerVersionId"]
    assert ("y", marker, True, True) in versions(s3, b)

    # removing the marker by version id: S3 reports that it was a delete marker
    result = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "y", "VersionId": marker}]})
    assert result["Deleted"] == [
        {"Key": "y", "VersionId": marker, "DeleteMarker": True, "DeleteMarkerVersionId": marker}
    ]
    assert all_keys(s3, b) == ["x", "y"]


def test_tagging_and_copy_by_version(s3: Any, versioned: str) -> None:
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="t", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="t", Body=b"two")["VersionId"]
    tagged = s3.put_object_tagging(
        Bucket=b, Key="t", VersionId=v1, Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]}
    )
    assert tagged["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=b, Key="t", VersionId=v1)["TagSet"] == [
        {"Key": "old", "Value": "yes"}
    ]
    assert s3.get_object_tagging(Bucket=b, Key="t")["TagSet"] == []  # latest (v2) untouched

    copied = s3.copy_object(
        Bucket=b, Key="restored", CopySource={"Bucket": b, "Key": "t", "VersionId": v1}
    )
    assert copied["CopySourceVersionId"] == v1
    assert copied["VersionId"] not in (v1, v2)
    assert s3.get_object(Bucket=b, Key="restored")["Body"].read() == b"one"
