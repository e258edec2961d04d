"""Bucket configuration and ACL calls (what terraform, s3cmd, rclone and the aws cli ask about a
bucket) against the running stack, answered as S3 answers a new bucket: Object Ownership
BucketOwnerEnforced (ACLs disabled, the owner holds FULL_CONTROL), and none of lifecycle,
encryption, website, replication, Object Lock, public access block, logging, notifications,
acceleration configured."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3_support import Raw, all_keys, error_code, make_bucket, s3_error, unique
from tests.e2e.stack import Stack

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
ACLS_DISABLED = ("AccessControlListNotSupported", 400)


def owner_of(s3: Any) -> dict[str, str]:
    """The caller's owner entry, as ListBuckets gives it (the root identity owns the buckets)."""
    return s3.list_buckets()["Owner"]


def only_owner(owner: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "Grantee": {
                "Type": "CanonicalUser",
                "ID": owner["ID"],
                "DisplayName": owner["DisplayName"],
            },
            "Permission": "FULL_CONTROL",
        }
    ]


def owner_policy(owner: dict[str, str], *extra: dict[str, Any]) -> dict[str, Any]:
    grants = [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
        *extra,
    ]
    return {"Owner": {"ID": owner["ID"]}, "Grants": grants}


ALL_USERS_READ = {
    "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
    "Permission": "READ",
}


# ---------------------------------------------------------------- ACL reads


def test_bucket_acl_is_the_owner_with_full_control(s3: Any, bucket: str, raw: Raw) -> None:
    me = owner_of(s3)
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"] == me
    assert acl["Grants"] == only_owner(me)

    status, headers, body = raw("GET", f"/{bucket}?acl")
    assert status == 200, body
    assert headers["Content-Type"] == "application/xml"
    root = ET.fromstring(body)
    assert root.tag == f"{NS}AccessControlPolicy"
    grants = root.findall(f"{NS}AccessControlList/{NS}Grant")
    assert len(grants) == 1
    grantee = grants[0].find(f"{NS}Grantee")
    assert grantee is not None and grantee.get(XSI_TYPE) == "CanonicalUser"
    assert grants[0].findtext(f"{NS}Permission") == "FULL_CONTROL"


def test_object_acl_is_the_bucket_owner_with_full_control(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"x")
    me = owner_of(s3)
    acl = s3.get_object_acl(Bucket=bucket, Key="dir/a b.txt")
    assert acl["Owner"] == me
    assert acl["Grants"] == only_owner(me)


def test_object_acl_of_versions(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    me = owner_of(s3)
    assert s3.get_object_acl(Bucket=bucket, Key="k", VersionId=old)["Grants"] == only_owner(me)
    assert s3.put_object_acl(
        Bucket=bucket, Key="k", VersionId=old, AccessControlPolicy=owner_policy(me)
    )["ResponseMetadata"]["HTTPStatusCode"] == (200)
    with s3_error("NoSuchVersion", 404):
        s3.get_object_acl(Bucket=bucket, Key="k", VersionId=uuid.uuid4().hex)
    with s3_error("NoSuchVersion", 404):
        s3.put_object_acl(Bucket=bucket, Key="k", VersionId=uuid.uuid4().hex, ACL="private")

    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with s3_error("NoSuchKey", 404) as info:  # the latest version is a delete marker
        s3.get_object_acl(Bucket=bucket, Key="k")
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with s3_error("MethodNotAllowed", 405):  # a delete marker has no ACL
        s3.get_object_acl(Bucket=bucket, Key="k", VersionId=marker)
    assert s3.get_object_acl(Bucket=bucket, Key="k", VersionId=old)["Owner"] == me


def test_object_acl_of_a_missing_key_or_bucket(s3: Any, bucket: str) -> None:
    with s3_error("NoSuchKey", 404) as info:
        s3.get_object_acl(Bucket=bucket, Key="nothing")
    assert info.value.response["Error"]["Key"] == "nothing"
    with s3_error("NoSuchKey", 404):
        s3.put_object_acl(Bucket=bucket, Key="nothing", ACL="bucket-owner-full-control")
    ghost = unique()
    with s3_error("NoSuchBucket", 404):
        s3.get_object_acl(Bucket=ghost, Key="k")
    with s3_error("NoSuchBucket", 404):
        s3.put_object_acl(Bucket=ghost, Key="k", ACL="bucket-owner-full-control")
    assert all_keys(s3, bucket) == []


def test_ownership_controls_are_bucket_owner_enforced(s3: Any, bucket: str) -> None:
    got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert got == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


# ---------------------------------------------------------------- ACL writes


def test_put_bucket_acl_accepts_only_the_owner_alone(s3: Any, bucket: str) -> None:
    me = owner_of(s3)
    response = s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=owner_policy(me))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    refused: list[dict[str, Any]] = [
        {"ACL": "private"},  # S3 refuses even this once ACLs are disabled
        {"ACL": "public-read"},
        {"ACL": "authenticated-read"},
        {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
        {"GrantFullControl": f'id="{me["ID"]}"'},
        {"AccessControlPolicy": owner_policy(me, ALL_USERS_READ)},
        {"AccessControlPolicy": owner_policy({"ID": "someone-else"})},
        {"AccessControlPolicy": {"Owner": {"ID": me["ID"]}, "Grants": []}},
        {
            "AccessControlPolicy": {
                "Owner": {"ID": me["ID"]},
                "Grants": [
                    {
                        "Grantee": {"Type": "CanonicalUser", "ID": me["ID"]},
                        "Permission": "READ",
                    }
                ],
            }
        },
    ]
    for params in refused:
        with s3_error(*ACLS_DISABLED) as info:
            s3.put_bucket_acl(Bucket=bucket, **params)
        assert info.value.response["Error"]["Message"] == "The bucket does not allow ACLs"
    assert s3.get_bucket_acl(Bucket=bucket)["Grants"] == only_owner(me)


def test_put_object_acl_accepts_only_the_owner_alone(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"untouched")
    me = owner_of(s3)
    for params in (
        {"ACL": "bucket-owner-full-control"},
        {"AccessControlPolicy": owner_policy(me)},
    ):
        response = s3.put_object_acl(Bucket=bucket, Key="k", **params)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    for params in (
        {"ACL": "private"},  # S3 refuses it on PutObjectAcl (ansible's default broke there)
        {"ACL": "public-read"},
        {"ACL": "bucket-owner-read"},
        {"GrantRead": f'id="{me["ID"]}"'},
        {"AccessControlPolicy": owner_policy(me, ALL_USERS_READ)},
    ):
        with s3_error(*ACLS_DISABLED):
            s3.put_object_acl(Bucket=bucket, Key="k", **params)
    assert s3.get_object_acl(Bucket=bucket, Key="k")["Grants"] == only_owner(me)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"untouched"
    assert all_keys(s3, bucket) == ["k"]


def test_acl_bodies_are_parsed_strictly(s3: Any, bucket: str, raw: Raw) -> None:
    for body in (b"<AccessControlPolicy><Owner>", b"<Tagging/>", b""):
        status, _, answer = raw("PUT", f"/{bucket}?acl", body)
        assert (status, error_code(answer)) == (400, "MalformedACLError")
    # a canned ACL and a body together ask for two things: refused
    me = owner_of(s3)
    body = (
        f'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f'<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:type="CanonicalUser"><ID>{me["ID"]}</ID></Grantee>'
        f"<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
    ).encode()
    status, _, answer = raw("PUT", f"/{bucket}?acl", body)
    assert status == 200, answer
    status, _, answer = raw("PUT", f"/{bucket}?acl", body, {"x-amz-acl": "private"})
    assert (status, error_code(answer)) == (400, "AccessControlListNotSupported")


# ---------------------------------------------------------------- ACL headers on writes


def test_object_writes_take_only_owner_acls(s3: Any, bucket: str) -> None:
    for acl in ("private", "bucket-owner-full-control"):
        s3.put_object(Bucket=bucket, Key=f"put-{acl}", Body=b"x", ACL=acl)
        s3.copy_object(Bucket=bucket, Key=f"copy-{acl}", CopySource=f"{bucket}/put-{acl}", ACL=acl)
        upload = s3.create_multipart_upload(Bucket=bucket, Key=f"mpu-{acl}", ACL=acl)
        s3.abort_multipart_upload(Bucket=bucket, Key=f"mpu-{acl}", UploadId=upload["UploadId"])
    before = sorted(all_keys(s3, bucket))
    writes: list[Callable[..., Any]] = [
        lambda **a: s3.put_object(Bucket=bucket, Key="refused", Body=b"x", **a),
        lambda **a: s3.copy_object(
            Bucket=bucket, Key="refused", CopySource=f"{bucket}/put-private", **a
        ),
        lambda **a: s3.create_multipart_upload(Bucket=bucket, Key="refused", **a),
    ]
    for write in writes:
        for params in (
            {"ACL": "public-read"},
            {"ACL": "authenticated-read"},
            {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
        ):
            with s3_error(*ACLS_DISABLED):
                write(**params)
    assert sorted(all_keys(s3, bucket)) == before
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_create_bucket_takes_only_private(s3: Any) -> None:
    name = unique()
    s3.create_bucket(Bucket=name, ACL="private")
    assert s3.get_bucket_acl(Bucket=name)["Grants"] == only_owner(owner_of(s3))
    for params in (
        {"ACL": "public-read"},
        {"ACL": "public-read-write"},
        {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
    ):
        ghost = unique()
        with s3_error("InvalidBucketAclWithObjectOwnership", 400):
            s3.create_bucket(Bucket=ghost, **params)
        assert ghost not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# ---------------------------------------------------------------- configurations never set

MISSING = [
    ("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration"),
    ("get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError"),
    ("get_bucket_website", "NoSuchWebsiteConfiguration"),
    ("get_bucket_replication", "ReplicationConfigurationNotFoundError"),
    ("get_object_lock_configuration", "ObjectLockConfigurationNotFoundError"),
    ("get_public_access_block", "NoSuchPublicAccessBlockConfiguration"),
]


@pytest.mark.parametrize(("method", "code"), MISSING)
def test_configurations_a_new_bucket_lacks(s3: Any, bucket: str, method: str, code: str) -> None:
    with s3_error(code, 404) as info:
        getattr(s3, method)(Bucket=bucket)
    assert info.value.response["Error"]["BucketName"] == bucket
    assert info.value.response["Error"]["Message"]


def test_configurations_answered_empty(s3: Any, bucket: str, raw: Raw) -> None:
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not {
        "TopicConfigurations",
        "QueueConfigurations",
        "LambdaFunctionConfigurations",
        "EventBridgeConfiguration",
    } & set(notification)
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    for query, root_tag in (
        ("logging", "BucketLoggingStatus"),
        ("notification", "NotificationConfiguration"),
        ("accelerate", "AccelerateConfiguration"),
    ):
        status, _, body = raw("GET", f"/{bucket}?{query}")
        assert status == 200, body
        root = ET.fromstring(body)
        assert (root.tag, len(root), (root.text or "").strip()) == (f"{NS}{root_tag}", 0, "")
    status, _, body = raw("GET", f"/{bucket}?requestPayment")
    assert status == 200, body
    root = ET.fromstring(body)
    assert root.tag == f"{NS}RequestPaymentConfiguration"
    assert [(c.tag, c.text) for c in root] == [(f"{NS}Payer", "BucketOwner")]


READS = [
    "get_bucket_acl",
    "get_bucket_ownership_controls",
    "get_bucket_lifecycle_configuration",
    "get_bucket_encryption",
    "get_bucket_website",
    "get_bucket_replication",
    "get_object_lock_configuration",
    "get_public_access_block",
    "get_bucket_logging",
    "get_bucket_notification_configuration",
    "get_bucket_accelerate_configuration",
    "get_bucket_request_payment",
]


@pytest.mark.parametrize("method", READS)
def test_every_read_of_a_missing_bucket_is_no_such_bucket(s3: Any, method: str) -> None:
    ghost = unique()
    with s3_error("NoSuchBucket", 404) as info:
        getattr(s3, method)(Bucket=ghost)
    assert info.value.response["Error"]["BucketName"] == ghost


def test_put_bucket_acl_on_a_missing_bucket_does_not_create_it(s3: Any) -> None:
    ghost = unique()
    with s3_error("NoSuchBucket", 404):
        s3.put_bucket_acl(Bucket=ghost, AccessControlPolicy=owner_policy(owner_of(s3)))
    with s3_error("NoSuchBucket", 404):
        s3.put_bucket_acl(Bucket=ghost, ACL="public-read")
    assert ghost not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_configuration_writes_stay_not_implemented(s3: Any, bucket: str) -> None:
    rule = {"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}
    sse = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    writes: list[Callable[[], Any]] = [
        lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [rule]}
        ),
        lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=sse),
        lambda: s3.put_bucket_website(
            Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
        ),
        lambda: s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True},
        ),
        lambda: s3.put_bucket_ownership_controls(
            Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        ),
        lambda: s3.put_bucket_request_payment(
            Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"}
        ),
        lambda: s3.delete_bucket_lifecycle(Bucket=bucket),
    ]
    for write in writes:
        with s3_error("NotImplemented", 501):
            write()
    with s3_error("NoSuchLifecycleConfiguration", 404):  # and nothing was stored
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"


# ---------------------------------------------------------------- IAM actions

IAM_ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    # (boto3 method, the IAM action it needs, its arguments besides Bucket)
    ("get_bucket_acl", "s3:GetBucketAcl", {}),
    ("get_bucket_ownership_controls", "s3:GetBucketOwnershipControls", {}),
    ("get_bucket_lifecycle_configuration", "s3:GetLifecycleConfiguration", {}),
    ("get_bucket_encryption", "s3:GetEncryptionConfiguration", {}),
    ("get_bucket_website", "s3:GetBucketWebsite", {}),
    ("get_bucket_replication", "s3:GetReplicationConfiguration", {}),
    ("get_object_lock_configuration", "s3:GetBucketObjectLockConfiguration", {}),
    ("get_public_access_block", "s3:GetBucketPublicAccessBlock", {}),
    ("get_bucket_logging", "s3:GetBucketLogging", {}),
    ("get_bucket_notification_configuration", "s3:GetBucketNotification", {}),
    ("get_bucket_accelerate_configuration", "s3:GetAccelerateConfiguration", {}),
    ("get_bucket_request_payment", "s3:GetBucketRequestPayment", {}),
    ("get_object_acl", "s3:GetObjectAcl", {"Key": "k"}),
    ("put_object_acl", "s3:PutObjectAcl", {"Key": "k", "ACL": "bucket-owner-full-control"}),
]


@pytest.fixture(scope="module")
def user(stack: Stack) -> tuple[Any, Any, str]:
    """(iam client, the user's s3 client, user name): a user whose only policy each test sets."""
    iam = stack.boto3("iam")
    name = f"cfg-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = stack.boto3(
        credentials=(key["AccessKeyId"], key["SecretAccessKey"]), retries={"max_attempts": 1}
    )
    return iam, client, name


def allow(iam: Any, name: str, bucket: str, *actions: str) -> None:
    statement = {
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    document = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(document))


def outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_each_operation_needs_its_own_iam_action(
    s3: Any, bucket: str, user: tuple[Any, Any, str]
) -> None:
    iam, client, name = user
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    expected = {
        method: outcome(lambda m=method, a=args: getattr(s3, m)(Bucket=bucket, **a))
        for method, _, args in IAM_ACTIONS
    }
    assert "AccessDenied" not in expected.values()
    for method, action, args in IAM_ACTIONS:
        allow(iam, name, bucket, action)
        call = getattr(client, method)
        assert outcome(lambda c=call, a=args: c(Bucket=bucket, **a)) == expected[method], action
        # every other operation of the list is denied with only this action allowed
        others = {
            m: outcome(lambda m=m, a=a: getattr(client, m)(Bucket=bucket, **a))
            for m, act, a in IAM_ACTIONS
            if act != action
        }
        assert set(others.values()) == {"AccessDenied"}, (action, others)


def test_object_acl_of_a_version_needs_the_version_action(
    s3: Any, user: tuple[Any, Any, str]
) -> None:
    iam, client, name = user
    bucket = make_bucket(s3)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    allow(iam, name, bucket, "s3:GetObjectAcl")
    assert outcome(lambda: client.get_object_acl(Bucket=bucket, Key="k")) == "ok"
    assert (
        outcome(lambda: client.get_object_acl(Bucket=bucket, Key="k", VersionId=version))
        == "AccessDenied"
    )
    allow(iam, name, bucket, "s3:GetObjectVersionAcl")
    assert outcome(lambda: client.get_object_acl(Bucket=bucket, Key="k", VersionId=version)) == "ok"
