"""Commands and events of the s3 service (buckets and objects)."""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

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


@registry.register
class DeleteObject(Message):
    TYPE = "s3.DeleteObject"
    bucket: str
    """The bucket holding the object."""
    key: str
    """The key to delete."""


# ---------------------------------------------------------------- events (past tense)


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


@registry.register
class ObjectDeleted(Message):
    TYPE = "s3.ObjectDeleted"
    bucket: str
    """The bucket."""
    key: str
    """The deleted key."""


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


COMMANDS = (CreateBucket, DeleteBucket, PutObject, DeleteObject)
EVENTS = (BucketCreated, BucketDeleted, ObjectPut, ObjectDeleted, CommandRejected)
