"""S3 resources and actions: ARNs, and which (action, resource) pairs an S3 operation needs.

ARN formats (Service Authorization Reference, "Resource types defined by Amazon S3"): bucket
``arn:aws:s3:::bucket``, object ``arn:aws:s3:::bucket/key``. The operation -> action table
follows the S3 API Reference's "Permissions" section of each operation (e.g. HeadBucket and
ListObjectsV2 need s3:ListBucket, DeleteBucketCors needs s3:PutBucketCORS, a request with
``versionId`` needs the ``...Version`` action). Every pair returned must be allowed.

Condition keys the S3 layer should put in ``Request.context`` (keys are case-insensitive):
``aws:SourceIp``, ``aws:SecureTransport``, ``aws:CurrentTime``, ``aws:EpochTime``,
``aws:UserAgent``, ``aws:Referer``; ``s3:prefix`` / ``s3:delimiter`` / ``s3:max-keys`` for
ListObjects(V2) and ListObjectVersions; ``s3:x-amz-acl`` when an ACL header is sent;
``s3:VersionId`` with a version id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Permission = tuple[str, str]
"""(action, resource ARN), e.g. ("s3:GetObject", "arn:aws:s3:::photos/cat.jpg")."""

ALL_BUCKETS = "arn:aws:s3:::*"
"""The resource of service-level actions (s3:ListAllMyBuckets): matched by "*" and
"arn:aws:s3:::*" in policies, as in AWS's "ListAllMyBuckets on arn:aws:s3:::*" examples."""


def arn(service: str, resource: str, *, region: str = "", account: str = "") -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def bucket_arn(bucket: str) -> str:
    return arn("s3", bucket)


def object_arn(bucket: str, key: str) -> str:
    return arn("s3", f"{bucket}/{key}")


@dataclass(frozen=True, slots=True)
class S3Permission:
    action: str
    scope: Literal["service", "bucket", "object"]
    versioned: str | None = None  # the action when the request names a versionId


def _table() -> dict[str, S3Permission]:
    t: dict[str, S3Permission] = {"ListBuckets": S3Permission("s3:ListAllMyBuckets", "service")}
    bucket_ops = {
        "CreateBucket": "CreateBucket",
        "DeleteBucket": "DeleteBucket",
        "HeadBucket": "ListBucket",
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "ListObjectVersions": "ListBucketVersions",
        "ListMultipartUploads": "ListBucketMultipartUploads",
        "GetBucketLocation": "GetBucketLocation",
        "GetBucketVersioning": "GetBucketVersioning",
        "PutBucketVersioning": "PutBucketVersioning",
        "GetBucketCors": "GetBucketCORS",
        "PutBucketCors": "PutBucketCORS",
        "DeleteBucketCors": "PutBucketCORS",
        "GetBucketPolicy": "GetBucketPolicy",
        "PutBucketPolicy": "PutBucketPolicy",
        "DeleteBucketPolicy": "DeleteBucketPolicy",
        "GetBucketPolicyStatus": "GetBucketPolicyStatus",
        "GetBucketTagging": "GetBucketTagging",
        "PutBucketTagging": "PutBucketTagging",
        "DeleteBucketTagging": "PutBucketTagging",
        "GetBucketAcl": "GetBucketAcl",
        "PutBucketAcl": "PutBucketAcl",
        "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
        "DeleteBucketLifecycle": "PutLifecycleConfiguration",
        "GetBucketEncryption": "GetEncryptionConfiguration",
        "PutBucketEncryption": "PutEncryptionConfiguration",
        "DeleteBucketEncryption": "PutEncryptionConfiguration",
        "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
        "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
        "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
        "GetBucketOwnershipControls": "GetBucketOwnershipControls",
        "PutBucketOwnershipControls": "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
        "GetBucketWebsite": "GetBucketWebsite",
        "PutBucketWebsite": "PutBucketWebsite",
        "DeleteBucketWebsite": "DeleteBucketWebsite",
        "GetBucketNotificationConfiguration": "GetBucketNotification",
        "PutBucketNotificationConfiguration": "PutBucketNotification",
        "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
        "GetBucketReplication": "GetReplicationConfiguration",
        "GetBucketLogging": "GetBucketLogging",
        "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
        "GetBucketRequestPayment": "GetBucketRequestPayment",
    }
    for op, action in bucket_ops.items():
        t[op] = S3Permission(f"s3:{action}", "bucket")
    object_ops = {
        "GetObject": ("GetObject", "GetObjectVersion"),
        "HeadObject": ("GetObject", "GetObjectVersion"),
        "DeleteObject": ("DeleteObject", "DeleteObjectVersion"),
        "DeleteObjects": ("DeleteObject", "DeleteObjectVersion"),
        "PutObject": ("PutObject", None),
        "CopyObject": ("PutObject", None),
        "CreateMultipartUpload": ("PutObject", None),
        "UploadPart": ("PutObject", None),
        "UploadPartCopy": ("PutObject", None),
        "CompleteMultipartUpload": ("PutObject", None),
        "AbortMultipartUpload": ("AbortMultipartUpload", None),
        "ListParts": ("ListMultipartUploadParts", None),
        "GetObjectTagging": ("GetObjectTagging", "GetObjectVersionTagging"),
        "PutObjectTagging": ("PutObjectTagging", "PutObjectVersionTagging"),
        "DeleteObjectTagging": ("DeleteObjectTagging", "DeleteObjectVersionTagging"),
        "GetObjectAcl": ("GetObjectAcl", "GetObjectVersionAcl"),
        "PutObjectAcl": ("PutObjectAcl", "PutObjectVersionAcl"),
        "GetObjectAttributes": ("GetObjectAttributes", "GetObjectVersionAttributes"),
        "GetObjectRetention": ("GetObjectRetention", None),
        "PutObjectRetention": ("PutObjectRetention", None),
        "GetObjectLegalHold": ("GetObjectLegalHold", None),
        "PutObjectLegalHold": ("PutObjectLegalHold", None),
        "RestoreObject": ("RestoreObject", None),
    }
    for op, (action, versioned) in object_ops.items():
        t[op] = S3Permission(f"s3:{action}", "object", f"s3:{versioned}" if versioned else None)
    return t


S3_OPERATIONS: Mapping[str, S3Permission] = _table()
"""Operation name (as api/s3 names them) -> the permission it needs."""

_COPIES = frozenset({"CopyObject", "UploadPartCopy"})


def s3_action_for(
    operation: str,
    bucket: str | None = None,
    key: str | None = None,
    *,
    version_id: str | None = None,
    keys: Sequence[str | tuple[str, str | None]] = (),
    source: tuple[str, str, str | None] | None = None,
) -> tuple[Permission, ...]:
    """The (action, resource ARN) pairs ``operation`` needs; all of them must be allowed.

    ``keys``: DeleteObjects' keys, each a key or (key, versionId) -- one s3:DeleteObject (or
    s3:DeleteObjectVersion) per key. ``source``: (bucket, key, versionId) of CopyObject /
    UploadPartCopy, which also need s3:GetObject (s3:GetObjectVersion) on the source.
    """
    perm = S3_OPERATIONS.get(operation)
    if perm is None:
        raise ValueError(f"unknown S3 operation {operation!r}")
    if perm.scope == "service":
        return ((perm.action, ALL_BUCKETS),)
    if bucket is None:
        raise ValueError(f"{operation} needs a bucket")
    if perm.scope == "bucket":
        return ((perm.action, bucket_arn(bucket)),)
    if operation == "DeleteObjects":
        out: list[Permission] = []
        for item in keys:
            name, version = (item, None) if isinstance(item, str) else item
            action = perm.versioned if version and perm.versioned else perm.action
            out.append((action, object_arn(bucket, name)))
        return tuple(out)
    if key is None:
        raise ValueError(f"{operation} needs a key")
    action = perm.versioned if version_id and perm.versioned else perm.action
    needed: list[Permission] = []
    if operation in _COPIES:
        if source is None:
            raise ValueError(f"{operation} needs its source")
        src_bucket, src_key, src_version = source
        read = "s3:GetObjectVersion" if src_version else "s3:GetObject"
        needed.append((read, object_arn(src_bucket, src_key)))
    needed.append((action, object_arn(bucket, key)))
    return tuple(needed)
