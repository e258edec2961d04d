"""Commands and events of the s3 service (buckets and objects)."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from events.envelope import Message, registry

# Bytes in memory, base64 in the JSON that goes into the log.
Base64Bytes = Annotated[
    bytes,
    BeforeValidator(lambda v: base64.b64decode(v, validate=True) if isinstance(v, str) else v),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), when_used="json"),
]

# ---------------------------------------------------------------- commands (imperative)


@registry.register
class CreateBucket(Message):
    TYPE = "s3.CreateBucket"
    bucket: str
    """The bucket name (S3 naming rules)."""
    region: str = "us-east-1"
    """The bucket's location constraint."""


@registry.register
class DeleteBucket(Message):
    TYPE = "s3.DeleteBucket"
    bucket: str
    """The bucket to delete; it must be empty."""


@registry.register
class PutObject(Message):
    TYPE = "s3.PutObject"
    bucket: str
    """The bucket to write into."""
    key: str
    """The object key (1 to 1024 bytes of UTF-8)."""
    blob_id: str
    """Where the bytes are stored on every sidecar; unique per upload."""
    size: int = Field(ge=0)
    """Object size in bytes."""
    md5: str
    """Hex MD5 of the bytes (the ETag of a single-part upload)."""
    sha256: str
    """Hex SHA-256 of the bytes, verified by every sidecar."""
    content_type: str = "application/octet-stream"
    """The object's Content-Type."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """User metadata (``x-amz-meta-*``)."""
    inline: Base64Bytes | None = None
    """The bytes themselves, for tiny objects."""
    chunks: list[int] = Field(default_factory=list)
    """Stream sequences of the blob chunks in the BLOBS stream, in order (when not inline)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Stored response headers: Content-Encoding, Content-Disposition, Cache-Control, ..."""
    checksums: dict[str, str] = Field(default_factory=dict)
    """Verified checksums by algorithm (``CRC32``, ``CRC32C``, ``SHA1``, ``SHA256``), base64."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Object tags given with the upload."""
    if_match: str | None = None
    """Conditional write (``If-Match``): put only if the current object's ETag is one of these
    (comma-separated, quotes optional, ``*``: any); no current object is NoSuchKey."""
    if_none_match: str | None = None
    """Conditional write (``If-None-Match: *``): put only if no current object exists (a delete
    marker as the latest version counts as none)."""


@registry.register
class DeleteObject(Message):
    TYPE = "s3.DeleteObject"
    bucket: str
    """The bucket holding the object."""
    key: str
    """The key to delete."""
    version_id: str | None = None
    """Delete this version for good; without it a versioned bucket gets a delete marker."""
    must_exist: bool = True
    """Reject with NoSuchKey when there is nothing to delete (S3 itself answers 204)."""


@registry.register
class PutBucketVersioning(Message):
    TYPE = "s3.PutBucketVersioning"
    bucket: str
    """The bucket."""
    status: Literal["Enabled", "Suspended"]
    """The new versioning state."""


@registry.register
class PutBucketCors(Message):
    TYPE = "s3.PutBucketCors"
    bucket: str
    """The bucket."""
    rules: list[dict[str, Any]]
    """CORS rules (AllowedMethods, AllowedOrigins, AllowedHeaders, ExposeHeaders, MaxAgeSeconds);
    an empty list removes the configuration."""


@registry.register
class PutBucketTagging(Message):
    TYPE = "s3.PutBucketTagging"
    bucket: str
    """The bucket."""
    tags: dict[str, str]
    """The complete new tag set (empty removes it: DeleteBucketTagging)."""


@registry.register
class PutBucketPolicy(Message):
    TYPE = "s3.PutBucketPolicy"
    bucket: str
    """The bucket."""
    document: str | None
    """The policy JSON (validated by the API); None removes the policy."""


@registry.register
class CopyObject(Message):
    TYPE = "s3.CopyObject"
    bucket: str
    """Destination bucket."""
    key: str
    """Destination key."""
    source_bucket: str
    """Source bucket."""
    source_key: str
    """Source key."""
    source_version_id: str | None = None
    """Source version; the latest when absent."""
    replace_metadata: bool = False
    """REPLACE directive: take the metadata below instead of the source's."""
    content_type: str | None = None
    """New Content-Type (with REPLACE)."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """New user metadata (with REPLACE)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """New stored headers (with REPLACE)."""
    replace_tags: bool = False
    """REPLACE tagging directive."""
    tags: dict[str, str] = Field(default_factory=dict)
    """New tags (with replace_tags)."""
    if_match: str | None = None
    """Copy only if the source ETag matches (x-amz-copy-source-if-match)."""
    if_none_match: str | None = None
    """Copy only if the source ETag differs."""
    dest_if_match: str | None = None
    """Conditional write on the destination (``If-Match``), as ``PutObject.if_match``."""
    dest_if_none_match: str | None = None
    """Conditional write on the destination (``If-None-Match: *``), as
    ``PutObject.if_none_match``."""


@registry.register
class PutObjectTagging(Message):
    TYPE = "s3.PutObjectTagging"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    version_id: str | None = None
    """The version; the latest when absent."""
    tags: dict[str, str]
    """The complete new tag set (empty removes all tags)."""


@registry.register
class CreateMultipartUpload(Message):
    TYPE = "s3.CreateMultipartUpload"
    bucket: str
    """The bucket."""
    key: str
    """The key the upload will create."""
    upload_id: str
    """The upload's id (chosen by the API, unique)."""
    content_type: str = "application/octet-stream"
    """Content-Type of the final object."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """User metadata of the final object."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Stored headers of the final object."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags of the final object."""
    checksum_algorithm: str | None = None
    """Checksum algorithm the parts use, if any."""
    checksum_type: str | None = None
    """``COMPOSITE`` or ``FULL_OBJECT``: how the object's checksum is made from the parts'."""


@registry.register
class UploadPart(Message):
    TYPE = "s3.UploadPart"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    upload_id: str
    """The upload."""
    part_number: int = Field(ge=1, le=10000)
    """Part number, 1 to 10000."""
    blob_id: str
    """Where the part's bytes are stored."""
    size: int = Field(ge=0)
    """Part size in bytes."""
    md5: str
    """Hex MD5 (the part's ETag)."""
    sha256: str
    """Hex SHA-256."""
    inline: Base64Bytes | None = None
    """Bytes of a tiny part."""
    chunks: list[int] = Field(default_factory=list)
    """BLOBS stream sequences of the part's chunks."""
    checksums: dict[str, str] = Field(default_factory=dict)
    """Verified checksums of the part."""
    copy_source: dict[str, Any] | None = None
    """UploadPartCopy: {bucket, key, version_id, start, end} to copy instead of a body."""


@registry.register
class CompleteMultipartUpload(Message):
    TYPE = "s3.CompleteMultipartUpload"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    upload_id: str
    """The upload."""
    parts: list[tuple[int, str]]
    """(part number, ETag) in ascending order, as the client listed them."""
    if_match: str | None = None
    """Conditional write (``If-Match``), as ``PutObject.if_match``."""
    if_none_match: str | None = None
    """Conditional write (``If-None-Match: *``), as ``PutObject.if_none_match``."""
    checksums: dict[str, str] = Field(default_factory=dict)
    """The object checksum the client expects (``x-amz-checksum-*``), by algorithm, base64."""


@registry.register
class AbortMultipartUpload(Message):
    TYPE = "s3.AbortMultipartUpload"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    upload_id: str
    """The upload to abandon."""


# ---------------------------------------------------------------- events (past tense)


class PartRef(BaseModel):
    """One part of a multipart object, as stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    blob_id: str
    size: int
    etag: str
    sha256: str = ""
    replicas: list[str] = Field(default_factory=list)


@registry.register
class BucketCreated(Message):
    TYPE = "s3.BucketCreated"
    bucket: str
    """The new bucket's name."""
    region: str = "us-east-1"
    """Its location constraint."""
    owner: str
    """The principal that owns it."""


@registry.register
class BucketDeleted(Message):
    TYPE = "s3.BucketDeleted"
    bucket: str
    """The deleted bucket's name."""


@registry.register
class ObjectPut(Message):
    TYPE = "s3.ObjectPut"
    bucket: str
    """The bucket."""
    key: str
    """The object key."""
    blob_id: str
    """The blob holding the bytes on each replica."""
    size: int
    """Size in bytes."""
    etag: str
    """The S3 ETag (hex MD5 for single-part uploads), without quotes."""
    sha256: str
    """Hex SHA-256 of the bytes."""
    content_type: str
    """The Content-Type to serve."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """User metadata."""
    replicas: list[str]
    """Names of the storage sidecars that stored and verified the bytes."""
    version_id: str = "null"
    """The version this put created (``null`` in unversioned or suspended buckets)."""
    parts: list[PartRef] = Field(default_factory=list)
    """For multipart objects: the parts, in order (then ``blob_id`` is empty)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Stored response headers."""
    checksums: dict[str, str] = Field(default_factory=dict)
    """Checksums by algorithm, base64."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Object tags."""


@registry.register
class ObjectDeleted(Message):
    TYPE = "s3.ObjectDeleted"
    bucket: str
    """The bucket."""
    key: str
    """The deleted key."""
    version_id: str = "null"
    """The version removed for good."""


@registry.register
class DeleteMarkerPut(Message):
    TYPE = "s3.DeleteMarkerPut"
    bucket: str
    """The bucket."""
    key: str
    """The key that now reads as deleted."""
    version_id: str
    """The delete marker's version id (``null`` in a suspended bucket)."""


@registry.register
class ObjectTagsSet(Message):
    TYPE = "s3.ObjectTagsSet"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    version_id: str
    """The version whose tags changed."""
    tags: dict[str, str]
    """The complete tag set."""


@registry.register
class BucketVersioningChanged(Message):
    TYPE = "s3.BucketVersioningChanged"
    bucket: str
    """The bucket."""
    status: Literal["Enabled", "Suspended"]
    """The new versioning state."""


@registry.register
class BucketCorsChanged(Message):
    TYPE = "s3.BucketCorsChanged"
    bucket: str
    """The bucket."""
    rules: list[dict[str, Any]]
    """The CORS rules; empty when removed."""


@registry.register
class BucketTagsChanged(Message):
    TYPE = "s3.BucketTagsChanged"
    bucket: str
    """The bucket."""
    tags: dict[str, str]
    """The bucket's tag set; empty when removed."""


@registry.register
class BucketPolicyChanged(Message):
    TYPE = "s3.BucketPolicyChanged"
    bucket: str
    """The bucket."""
    document: str | None
    """The policy JSON; None when removed."""


@registry.register
class MultipartUploadCreated(Message):
    TYPE = "s3.MultipartUploadCreated"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    upload_id: str
    """The upload."""
    initiator: str
    """Who started it."""
    content_type: str = "application/octet-stream"
    """Content-Type of the final object."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """User metadata of the final object."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Stored headers of the final object."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags of the final object."""
    checksum_algorithm: str | None = None
    """Checksum algorithm of the parts."""
    checksum_type: str | None = None
    """``COMPOSITE`` or ``FULL_OBJECT`` (None: the algorithm's default, or no checksum)."""


@registry.register
class PartUploaded(Message):
    TYPE = "s3.PartUploaded"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    upload_id: str
    """The upload."""
    part_number: int
    """Part number."""
    blob_id: str
    """Where the part's bytes are."""
    size: int
    """Size in bytes."""
    etag: str
    """Hex MD5 of the part."""
    sha256: str
    """Hex SHA-256 of the part."""
    checksums: dict[str, str] = Field(default_factory=dict)
    """Checksums of the part."""
    replicas: list[str] = Field(default_factory=list)
    """Sidecars holding the part."""


@registry.register
class MultipartUploadCompleted(Message):
    TYPE = "s3.MultipartUploadCompleted"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    upload_id: str
    """The upload."""
    version_id: str
    """The version of the object it created."""
    etag: str
    """The object's multipart ETag (``md5-of-md5s-N``)."""


@registry.register
class MultipartUploadAborted(Message):
    TYPE = "s3.MultipartUploadAborted"
    bucket: str
    """The bucket."""
    key: str
    """The key."""
    upload_id: str
    """The upload."""


@registry.register
class ReplicaAdded(Message):
    """A sidecar caught up after the write: it now holds a verified copy of a blob.

    The write recorded only the sidecars that had the bytes when its quorum was reached; the
    replicator and the scrubber copy the rest and record each copy with this event. It names one
    referrer of the blob (for the subject and the audit trail), but applies to the blob wherever
    it is referenced (copies share blobs)."""

    TYPE = "s3.ReplicaAdded"
    bucket: str
    """The bucket of the object (or upload) referencing the blob."""
    key: str
    """Its key."""
    version_id: str = ""
    """The object version referencing the blob; empty for a part of an upload in progress."""
    upload_id: str | None = None
    """The upload whose part is the blob, when no object version references it (yet)."""
    blob_id: str
    """The blob that was copied."""
    sidecar: str
    """The sidecar that now holds a verified copy."""


@registry.register
class CommandRejected(Message):
    TYPE = "s3.CommandRejected"
    command: str
    """The rejected command's type, e.g. ``s3.CreateBucket``."""
    code: str
    """An S3-style error code, e.g. ``BucketAlreadyExists``."""
    message: str
    """A human-readable reason."""
    bucket: str | None = None
    """The bucket the command named, if any."""
    key: str | None = None
    """The key the command named, if any."""


COMMANDS = (
    CreateBucket,
    DeleteBucket,
    PutBucketVersioning,
    PutBucketCors,
    PutBucketPolicy,
    PutBucketTagging,
    PutObject,
    CopyObject,
    DeleteObject,
    PutObjectTagging,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
)
EVENTS = (
    BucketCreated,
    BucketDeleted,
    BucketVersioningChanged,
    BucketCorsChanged,
    BucketPolicyChanged,
    BucketTagsChanged,
    ObjectPut,
    ObjectDeleted,
    DeleteMarkerPut,
    ObjectTagsSet,
    MultipartUploadCreated,
    PartUploaded,
    MultipartUploadCompleted,
    MultipartUploadAborted,
    ReplicaAdded,
    CommandRejected,
)
