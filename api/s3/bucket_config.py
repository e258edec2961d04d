"""Bucket configuration MyCloud does not keep, answered as S3 answers a new bucket.

Since April 2023 a new S3 bucket has Object Ownership ``BucketOwnerEnforced``: ACLs are
disabled, the bucket owner owns every object and holds FULL_CONTROL, and access is granted by
policies alone. That is exactly MyCloud's model, so:

* ACL reads (GetBucketAcl, GetObjectAcl) answer the owner with FULL_CONTROL, and
  GetBucketOwnershipControls answers BucketOwnerEnforced;
* ACL writes that ask for something other than what is already true fail with
  ``AccessControlListNotSupported`` ("The bucket does not allow ACLs"), as S3's do; the few it
  accepts store nothing (there is nothing to store);
* reads of configurations MyCloud has no notion of (lifecycle, encryption, website, replication,
  Object Lock, public access block, logging, notifications, acceleration, request payment)
  answer what S3 answers for a bucket that has none. Their writes stay NotImplemented.

Which ACL writes S3 accepts under BucketOwnerEnforced (S3 User Guide, "Troubleshooting" of
Object Ownership, and the PutObject reference): a write that sets no ACL, or one that gives
bucket owner full control only (``bucket-owner-full-control``, or the equivalent XML). In
practice S3 also accepts ``private`` on object *writes* (PutObject and friends) from the bucket's
own account, while ``PutBucketAcl``/``PutObjectAcl`` with ``x-amz-acl: private`` fail (which is
what broke terraform's ``aws_s3_bucket_acl { acl = "private" }`` on new buckets). CreateBucket
takes ``private`` and refuses anything granting more with ``InvalidBucketAclWithObjectOwnership``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from api.errors import ApiError
from api.s3 import xml_render
from api.s3.common import existing_bucket, owner, xml
from api.s3.xml_parse import MALFORMED, S3XmlError, parse_document
from api.s3.xml_render import Owner

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Ops = list[tuple[str, str | None, str, Handler]]

OBJECT_OWNERSHIP = "BucketOwnerEnforced"
ACLS_DISABLED = "The bucket does not allow ACLs"
BUCKET_ACL_WITH_OWNERSHIP = (
    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
)
GRANT_HEADER_PREFIX = "x-amz-grant-"

OBJECT_WRITE_CANNED = frozenset({"private", "bucket-owner-full-control"})
"""``x-amz-acl`` values PutObject, CopyObject and CreateMultipartUpload accept."""
CREATE_BUCKET_CANNED = frozenset({"private"})
"""``x-amz-acl`` values CreateBucket accepts."""
PUT_OBJECT_ACL_CANNED = frozenset({"bucket-owner-full-control"})
"""``x-amz-acl`` values PutObjectAcl accepts (``private`` is refused there, as by S3)."""
PUT_BUCKET_ACL_CANNED: frozenset[str] = frozenset()
"""``x-amz-acl`` values PutBucketAcl accepts: none (S3 refuses even ``private``)."""

_XSI_TYPE = f"{{{xml_render.XSI}}}type"
_PERMISSIONS = frozenset({"FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP"})
_GRANTEE_FIELDS = {"ID", "DisplayName", "URI", "EmailAddress"}
_GRANTEE_NAMED_BY = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}


def acls_disabled() -> ApiError:
    return ApiError("AccessControlListNotSupported", ACLS_DISABLED)


# ---------------------------------------------------------------- ACL headers on writes


def acl_header_problem(
    headers: Mapping[str, str], *, create_bucket: bool = False
) -> ApiError | None:
    """What S3 answers a write carrying ACL headers (``x-amz-acl``, ``x-amz-grant-*``) while
    ACLs are disabled, or None when it accepts them (absent, or asking for owner-only access).

    Objects (PutObject, CopyObject, CreateMultipartUpload): ``private`` and
    ``bucket-owner-full-control`` pass, anything else is AccessControlListNotSupported.
    CreateBucket (``create_bucket=True``): ``private`` passes, anything else is
    InvalidBucketAclWithObjectOwnership.
    """
    names = {name.lower() for name in headers}
    canned = next((v for k, v in headers.items() if k.lower() == "x-amz-acl"), None)
    granted = any(name.startswith(GRANT_HEADER_PREFIX) for name in names)
    allowed = CREATE_BUCKET_CANNED if create_bucket else OBJECT_WRITE_CANNED
    if not granted and (canned is None or canned in allowed):
        return None
    if create_bucket:
        return ApiError("InvalidBucketAclWithObjectOwnership", BUCKET_ACL_WITH_OWNERSHIP)
    return acls_disabled()


# ---------------------------------------------------------------- AccessControlPolicy bodies


def _malformed_acl() -> S3XmlError:
    return S3XmlError("MalformedACLError", MALFORMED)


def _local(tag: str) -> str:
    """An element's name without its namespace (S3 takes its own namespace or none)."""
    return tag.rsplit("}", 1)[-1]


def _fields(element: ET.Element, allowed: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    if element.text and element.text.strip():
        raise _malformed_acl()
    for child in element:
        name = _local(child.tag)
        if name not in allowed or name in out or len(child):
            raise _malformed_acl()
        out[name] = (child.text or "").strip()
    return out


def parse_access_control_policy(
    body: bytes,
) -> tuple[str | None, list[tuple[str, str, str]]]:
    """(owner ID or None, grants) of an ``AccessControlPolicy`` body; each grant is
    (grantee type, grantee ID / URI / e-mail, permission). MalformedACLError if off-schema."""
    root = parse_document(body, _malformed_acl)
    if _local(root.tag) != "AccessControlPolicy":
        raise _malformed_acl()
    owner_id: str | None = None
    grants: list[tuple[str, str, str]] | None = None
    for child in root:
        name = _local(child.tag)
        if name == "Owner" and owner_id is None:
            owner_id = _fields(child, {"ID", "DisplayName"}).get("ID", "")
        elif name == "AccessControlList" and grants is None:
            grants = [_grant(grant) for grant in child]
        else:
            raise _malformed_acl()
    if grants is None:
        raise _malformed_acl()
    return owner_id, grants


def _grant(element: ET.Element) -> tuple[str, str, str]:
    if _local(element.tag) != "Grant":
        raise _malformed_acl()
    grantee: tuple[str, str] | None = None
    permission: str | None = None
    for child in element:
        name = _local(child.tag)
        if name == "Grantee" and grantee is None:
            kind = child.get(_XSI_TYPE, "")
            fields = _fields(child, _GRANTEE_FIELDS)
            named_by = _GRANTEE_NAMED_BY.get(kind)
            if named_by is None or not fields.get(named_by):
                raise _malformed_acl()
            grantee = (kind, fields[named_by])
        elif name == "Permission" and permission is None and not len(child):
            permission = (child.text or "").strip()
            if permission not in _PERMISSIONS:
                raise _malformed_acl()
        else:
            raise _malformed_acl()
    if grantee is None or permission is None:
        raise _malformed_acl()
    return grantee[0], grantee[1], permission


async def _check_acl_write(request: web.Request, holder: Owner, canned_ok: frozenset[str]) -> None:
    """Accept (by returning) a PutBucketAcl/PutObjectAcl that asks for what is already true:
    the owner alone, with FULL_CONTROL. Anything else is AccessControlListNotSupported."""
    headers = request.headers
    if any(name.lower().startswith(GRANT_HEADER_PREFIX) for name in headers):
        raise acls_disabled()
    body = await request.read()
    canned = headers.get("x-amz-acl")
    if canned is not None:
        if body.strip() or canned not in canned_ok:
            raise acls_disabled()
        return
    if not body.strip():
        raise _malformed_acl()  # neither a canned ACL nor a policy: nothing was asked
    owner_id, grants = parse_access_control_policy(body)
    only_owner = ("CanonicalUser", holder.id, "FULL_CONTROL")
    if owner_id not in (None, holder.id) or not grants or set(grants) != {only_owner}:
        raise acls_disabled()


# ---------------------------------------------------------------- ACLs


async def _bucket_owner(request: web.Request) -> Owner:
    row = await existing_bucket(request)
    return owner(row["owner"])


async def _existing_object(request: web.Request) -> Owner:
    """The owner of the object (or version) the request names: with ACLs disabled, the bucket
    owner. The object is looked up as GetObject looks it up, with its errors (NoSuchKey,
    NoSuchVersion, and the delete-marker answers)."""
    from api.s3.objects import object_version  # objects imports this module

    bucket_row, _ = await object_version(request)
    return owner(bucket_row["owner"])


async def get_bucket_acl(request: web.Request) -> web.Response:
    return xml(xml_render.access_control_policy(await _bucket_owner(request)))


async def put_bucket_acl(request: web.Request) -> web.Response:
    await _check_acl_write(request, await _bucket_owner(request), PUT_BUCKET_ACL_CANNED)
    return web.Response()


async def get_object_acl(request: web.Request) -> web.Response:
    return xml(xml_render.access_control_policy(await _existing_object(request)))


async def put_object_acl(request: web.Request) -> web.Response:
    await _check_acl_write(request, await _existing_object(request), PUT_OBJECT_ACL_CANNED)
    return web.Response()


async def get_ownership_controls(request: web.Request) -> web.Response:
    await existing_bucket(request)
    return xml(xml_render.ownership_controls(OBJECT_OWNERSHIP))


# ---------------------------------------------------------------- configurations never set


def _none_set(code: str, message: str) -> Handler:
    """A read of a configuration S3 keeps and MyCloud never has: S3's 404 for a bucket
    without one."""

    async def handler(request: web.Request) -> web.Response:
        await existing_bucket(request)
        raise ApiError(code, message, bucketName=request["bucket"])

    return handler


def _fixed(render: Callable[[], bytes]) -> Handler:
    """A read S3 answers with a document even when nothing is configured."""

    async def handler(request: web.Request) -> web.Response:
        await existing_bucket(request)
        return xml(render())

    return handler


get_lifecycle = _none_set(
    "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"
)
get_encryption = _none_set(
    "ServerSideEncryptionConfigurationNotFoundError",
    "The server side encryption configuration was not found",
)
get_website = _none_set(
    "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"
)
get_replication = _none_set(
    "ReplicationConfigurationNotFoundError", "The replication configuration was not found"
)
get_object_lock = _none_set(
    "ObjectLockConfigurationNotFoundError",
    "Object Lock configuration does not exist for this bucket",
)
get_public_access_block = _none_set(
    "NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found"
)
get_logging = _fixed(lambda: xml_render.empty_document("BucketLoggingStatus"))
get_notification = _fixed(lambda: xml_render.empty_document("NotificationConfiguration"))
get_accelerate = _fixed(lambda: xml_render.empty_document("AccelerateConfiguration"))
get_request_payment = _fixed(lambda: xml_render.request_payment("BucketOwner"))


CONFIG_BUCKET_OPS: Ops = [
    ("GET", "acl", "GetBucketAcl", get_bucket_acl),
    ("PUT", "acl", "PutBucketAcl", put_bucket_acl),
    ("GET", "ownershipControls", "GetBucketOwnershipControls", get_ownership_controls),
    ("GET", "lifecycle", "GetBucketLifecycleConfiguration", get_lifecycle),
    ("GET", "encryption", "GetBucketEncryption", get_encryption),
    ("GET", "website", "GetBucketWebsite", get_website),
    ("GET", "replication", "GetBucketReplication", get_replication),
    ("GET", "object-lock", "GetObjectLockConfiguration", get_object_lock),
    ("GET", "publicAccessBlock", "GetPublicAccessBlock", get_public_access_block),
    ("GET", "logging", "GetBucketLogging", get_logging),
    ("GET", "notification", "GetBucketNotificationConfiguration", get_notification),
    ("GET", "accelerate", "GetBucketAccelerateConfiguration", get_accelerate),
    ("GET", "requestPayment", "GetBucketRequestPayment", get_request_payment),
]
"""Bucket operations (method, query marker, operation name, handler), for BUCKET_OPS."""

ACL_OBJECT_OPS: Ops = [
    ("GET", "acl", "GetObjectAcl", get_object_acl),
    ("PUT", "acl", "PutObjectAcl", put_object_acl),
]
"""Object operations, for OBJECT_OPS (ahead of CopyObject, which matches on a header)."""
