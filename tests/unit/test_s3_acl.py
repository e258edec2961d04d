"""ACLs disabled (Object Ownership BucketOwnerEnforced) and the configuration reads S3 answers for
a bucket with none: rendered documents as botocore parses them, ACL headers and bodies as S3
judges them, and the names the dispatcher, the error table and IAM must agree on."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestXMLParser
from botocore.serialize import create_serializer

from api.s3 import bucket_config as bc
from api.s3 import xml_render
from api.s3.service import SUBRESOURCES
from api.s3.xml_parse import S3XmlError
from api.s3.xml_render import Owner
from events.codes import CODES
from iam.s3 import s3_action_for

MODEL = botocore.session.get_session().get_service_model("s3")
ME = Owner("a" * 64, "root")


def parse(op: str, body: bytes) -> dict[str, Any]:
    shape = MODEL.operation_model(op).output_shape
    return RestXMLParser().parse({"body": body, "headers": {}, "status_code": 200}, shape)


def acl_body(op: str, policy: dict[str, Any]) -> bytes:
    params: dict[str, Any] = {"Bucket": "b", "AccessControlPolicy": policy}
    if op == "PutObjectAcl":
        params["Key"] = "k"
    request = create_serializer("rest-xml").serialize_to_request(params, MODEL.operation_model(op))
    return request["body"]


def owner_grant(owner_id: str = ME.id, permission: str = "FULL_CONTROL") -> dict[str, Any]:
    return {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": permission}


# ---------------------------------------------------------------- documents


@pytest.mark.parametrize("op", ["GetBucketAcl", "GetObjectAcl"])
def test_access_control_policy_is_the_owner_with_full_control(op: str) -> None:
    parsed = parse(op, xml_render.access_control_policy(ME))
    assert parsed["Owner"] == {"ID": ME.id, "DisplayName": "root"}
    assert parsed["Grants"] == [
        {
            "Grantee": {"Type": "CanonicalUser", "ID": ME.id, "DisplayName": "root"},
            "Permission": "FULL_CONTROL",
        }
    ]


def test_access_control_policy_escapes_the_display_name() -> None:
    body = xml_render.access_control_policy(Owner("id", "a<b&c"))
    assert b"<DisplayName>a&lt;b&amp;c</DisplayName>" in body
    assert parse("GetBucketAcl", body)["Owner"]["DisplayName"] == "a<b&c"


def test_ownership_controls_say_bucket_owner_enforced() -> None:
    body = xml_render.ownership_controls()
    assert parse("GetBucketOwnershipControls", body)["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert f'<OwnershipControls xmlns="{xml_render.NS}">'.encode() in body


@pytest.mark.parametrize(
    ("op", "root"),
    [
        ("GetBucketLogging", "BucketLoggingStatus"),
        ("GetBucketNotificationConfiguration", "NotificationConfiguration"),
        ("GetBucketAccelerateConfiguration", "AccelerateConfiguration"),
    ],
)
def test_empty_configurations(op: str, root: str) -> None:
    body = xml_render.empty_document(root)
    assert body.endswith(f'<{root} xmlns="{xml_render.NS}"/>'.encode())
    parsed = parse(op, body)
    parsed.pop("ResponseMetadata", None)
    assert parsed == {}


def test_empty_document_refuses_a_non_name() -> None:
    with pytest.raises(ValueError):
        xml_render.empty_document("a b")


def test_request_payment_is_the_bucket_owner() -> None:
    assert parse("GetBucketRequestPayment", xml_render.request_payment())["Payer"] == "BucketOwner"


# ---------------------------------------------------------------- ACL headers on writes


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-amz-acl": "private"},
        {"X-Amz-Acl": "bucket-owner-full-control"},
        {"x-amz-meta-a": "b"},
    ],
)
def test_object_writes_accept_no_acl_or_owner_only(headers: dict[str, str]) -> None:
    assert bc.acl_header_problem(headers) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-acl": "public-read"},
        {"x-amz-acl": "public-read-write"},
        {"x-amz-acl": "authenticated-read"},
        {"x-amz-acl": "bucket-owner-read"},
        {"x-amz-acl": ""},  # an empty header is still an ACL, and S3 refuses it
        {"x-amz-acl": "PRIVATE"},
        {"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
        {"X-Amz-Grant-Full-Control": f'id="{ME.id}"'},
        {"x-amz-acl": "private", "x-amz-grant-write-acp": 'id="x"'},
    ],
)
def test_object_writes_refuse_other_acls(headers: dict[str, str]) -> None:
    problem = bc.acl_header_problem(headers)
    assert problem is not None
    assert (problem.code, problem.message) == (
        "AccessControlListNotSupported",
        "The bucket does not allow ACLs",
    )


@pytest.mark.parametrize("headers", [{}, {"x-amz-acl": "private"}, {"Content-Type": "text/xml"}])
def test_create_bucket_accepts_no_acl_or_private(headers: dict[str, str]) -> None:
    assert bc.acl_header_problem(headers, create_bucket=True) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-acl": "public-read"},
        {"x-amz-acl": "log-delivery-write"},
        {"x-amz-acl": "bucket-owner-full-control"},
        {"x-amz-grant-full-control": 'id="someone-else"'},
    ],
)
def test_create_bucket_refuses_other_acls(headers: dict[str, str]) -> None:
    problem = bc.acl_header_problem(headers, create_bucket=True)
    assert problem is not None
    assert problem.code == "InvalidBucketAclWithObjectOwnership"
    assert "BucketOwnerEnforced" in problem.message


# ---------------------------------------------------------------- AccessControlPolicy bodies


def test_parse_what_botocore_sends() -> None:
    body = acl_body(
        "PutBucketAcl",
        {
            "Owner": {"ID": ME.id, "DisplayName": "root"},
            "Grants": [
                owner_grant(),
                {
                    "Grantee": {
                        "Type": "Group",
                        "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                    },
                    "Permission": "READ",
                },
                {
                    "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "x@example.com"},
                    "Permission": "WRITE_ACP",
                },
            ],
        },
    )
    assert bc.parse_access_control_policy(body) == (
        ME.id,
        [
            ("CanonicalUser", ME.id, "FULL_CONTROL"),
            ("Group", "http://acs.amazonaws.com/groups/global/AllUsers", "READ"),
            ("AmazonCustomerByEmail", "x@example.com", "WRITE_ACP"),
        ],
    )


def test_parse_without_namespace_or_owner() -> None:
    body = (
        b'<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="'
        + xml_render.XSI.encode()
        + b'" xsi:type="CanonicalUser"><ID>abc</ID></Grantee>'
        b"<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
    )
    assert bc.parse_access_control_policy(body) == (None, [("CanonicalUser", "abc", "READ")])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<Tagging/>",
        b"<AccessControlPolicy/>",  # no AccessControlList
        b"<AccessControlPolicy><AccessControlList/><AccessControlList/></AccessControlPolicy>",
        b"<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission>"
        b"</Grant></AccessControlList></AccessControlPolicy>",  # no grantee
        b"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee>"
        b"<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
        b'<AccessControlPolicy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        b'<AccessControlList><Grant><Grantee xsi:type="CanonicalUser"><ID>x</ID></Grantee>'
        b"<Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><AccessControlPolicy/>',
        b"<AccessControlPolicy><Bogus/><AccessControlList/></AccessControlPolicy>",
    ],
)
def test_parse_refuses_off_schema_bodies(body: bytes) -> None:
    with pytest.raises(S3XmlError) as info:
        bc.parse_access_control_policy(body)
    assert info.value.code == "MalformedACLError"


# ---------------------------------------------------------------- what the routes and IAM say

EXPECTED = {
    # operation: (method, subresource, IAM action, versioned IAM action)
    "GetBucketAcl": ("GET", "acl", "s3:GetBucketAcl", None),
    "PutBucketAcl": ("PUT", "acl", "s3:PutBucketAcl", None),
    "GetBucketOwnershipControls": (
        "GET",
        "ownershipControls",
        "s3:GetBucketOwnershipControls",
        None,
    ),
    "GetBucketLifecycleConfiguration": ("GET", "lifecycle", "s3:GetLifecycleConfiguration", None),
    "GetBucketEncryption": ("GET", "encryption", "s3:GetEncryptionConfiguration", None),
    "GetBucketWebsite": ("GET", "website", "s3:GetBucketWebsite", None),
    "GetBucketReplication": ("GET", "replication", "s3:GetReplicationConfiguration", None),
    "GetObjectLockConfiguration": (
        "GET",
        "object-lock",
        "s3:GetBucketObjectLockConfiguration",
        None,
    ),
    "GetPublicAccessBlock": ("GET", "publicAccessBlock", "s3:GetBucketPublicAccessBlock", None),
    "GetBucketLogging": ("GET", "logging", "s3:GetBucketLogging", None),
    "GetBucketNotificationConfiguration": ("GET", "notification", "s3:GetBucketNotification", None),
    "GetBucketAccelerateConfiguration": (
        "GET",
        "accelerate",
        "s3:GetAccelerateConfiguration",
        None,
    ),
    "GetBucketRequestPayment": ("GET", "requestPayment", "s3:GetBucketRequestPayment", None),
    "GetObjectAcl": ("GET", "acl", "s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "PutObjectAcl": ("PUT", "acl", "s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
}


def test_every_operation_is_routed_by_its_subresource() -> None:
    routed = {
        op: (method, marker) for method, marker, op, _ in bc.CONFIG_BUCKET_OPS + bc.ACL_OBJECT_OPS
    }
    assert routed == {op: (m, q) for op, (m, q, _, _) in EXPECTED.items()}
    assert {q for _, q, _, _ in EXPECTED.values()} <= SUBRESOURCES


@pytest.mark.parametrize("op", sorted(EXPECTED))
def test_every_operation_needs_its_iam_action(op: str) -> None:
    _, _, action, versioned = EXPECTED[op]
    if op in ("GetObjectAcl", "PutObjectAcl"):
        assert s3_action_for(op, "b", "k") == ((action, "arn:aws:s3:::b/k"),)
        assert s3_action_for(op, "b", "k", version_id="v") == ((versioned, "arn:aws:s3:::b/k"),)
    else:
        assert s3_action_for(op, "b") == ((action, "arn:aws:s3:::b"),)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessControlListNotSupported", 400),
        ("InvalidBucketAclWithObjectOwnership", 400),
        ("MalformedACLError", 400),
        ("NoSuchLifecycleConfiguration", 404),
        ("ServerSideEncryptionConfigurationNotFoundError", 404),
        ("NoSuchWebsiteConfiguration", 404),
        ("ReplicationConfigurationNotFoundError", 404),
        ("ObjectLockConfigurationNotFoundError", 404),
        ("NoSuchPublicAccessBlockConfiguration", 404),
    ],
)
def test_error_codes_are_in_the_table(code: str, status: int) -> None:
    assert code in CODES
    assert CODES[code].status == status
