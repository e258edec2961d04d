"""Pure decisions of the s3 service: state + command -> what to append, or a rejection.

State is read from the log itself (the last event on an aggregate's subject), so a handler keeps
nothing in memory and any number of replicas can run: each append carries the sequence its
decision was based on, and JetStream refuses it if anything changed since.
"""

from __future__ import annotations

from dataclasses import dataclass

from bus import subjects
from events.envelope import Envelope, Message
from events.s3 import (
    BucketCreated,
    BucketDeleted,
    CommandRejected,
    CreateBucket,
    DeleteBucket,
    DeleteObject,
    ObjectDeleted,
    ObjectPut,
    PutObject,
)
from handlers.s3.rules import bucket_name_problem, key_problem


@dataclass(frozen=True, slots=True)
class View:
    """The newest event on an aggregate's subject (or filter) and its stream sequence."""

    seq: int = 0
    last: Envelope | None = None

    @property
    def bucket_exists(self) -> bool:
        return self.last is not None and isinstance(self.last.data, BucketCreated)

    @property
    def object_exists(self) -> bool:
        return self.last is not None and isinstance(self.last.data, ObjectPut)

    def caused_by(self, command: Envelope) -> bool:
        return self.last is not None and self.last.causation_id == command.id


@dataclass(frozen=True, slots=True)
class Append:
    """Append ``data`` to ``subject`` if ``expect_subject``'s last sequence is ``expect_seq``."""

    subject: str
    data: Message
    expect_seq: int
    expect_subject: str


@dataclass(frozen=True, slots=True)
class Reject:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AlreadyApplied:
    """The command's event is already in the log (a redelivery after a crash)."""

    seq: int


Decision = Append | Reject | AlreadyApplied


def reject(command: Envelope, decision: Reject) -> CommandRejected:
    data = command.data
    return CommandRejected(
        command=command.type,
        code=decision.code,
        message=decision.message,
        bucket=getattr(data, "bucket", None),
        key=getattr(data, "key", None),
    )


def rejection_subject() -> str:
    return subjects.S3_REJECTED


def validate(command: Envelope) -> Reject | None:
    """Checks that need no state."""
    data = command.data
    bucket = getattr(data, "bucket", None)
    if bucket is not None:
        problem = bucket_name_problem(bucket)
        if problem and isinstance(data, CreateBucket):
            return Reject("InvalidBucketName", problem)
        if problem:
            return Reject("NoSuchBucket", f"The specified bucket does not exist: {bucket}")
    key = getattr(data, "key", None)
    if key is not None:
        key_issue = key_problem(key)
        if key_issue:
            return Reject(*key_issue)
    if isinstance(data, PutObject) and data.inline is not None and len(data.inline) != data.size:
        return Reject("IncompleteBody", "Inline body size does not match the declared size.")
    return None


def create_bucket(command: Envelope, bucket: View) -> Decision:
    data = command.data
    assert isinstance(data, CreateBucket)
    if bucket.caused_by(command):
        return AlreadyApplied(bucket.seq)
    if bucket.bucket_exists:
        assert bucket.last is not None
        if bucket.last.actor == command.actor:
            return Reject("BucketAlreadyOwnedByYou", f"You already own bucket {data.bucket}.")
        return Reject("BucketAlreadyExists", f"Bucket {data.bucket} already exists.")
    event = BucketCreated(bucket=data.bucket, region=data.region, owner=command.actor)
    state = subjects.bucket_state(data.bucket)
    return Append(state, event, bucket.seq, state)


def delete_bucket(command: Envelope, bucket: View, everything: View, live_objects: int) -> Decision:
    """``everything`` is the newest event under the whole bucket (state and all objects);
    ``live_objects`` counts objects alive as of that event."""
    data = command.data
    assert isinstance(data, DeleteBucket)
    if bucket.caused_by(command):
        return AlreadyApplied(bucket.seq)
    if not bucket.bucket_exists:
        return Reject("NoSuchBucket", f"The specified bucket does not exist: {data.bucket}")
    if live_objects:
        return Reject("BucketNotEmpty", f"Bucket {data.bucket} is not empty.")
    return Append(
        subjects.bucket_state(data.bucket),
        BucketDeleted(bucket=data.bucket),
        everything.seq,
        subjects.bucket_all(data.bucket),
    )


def put_object(command: Envelope, bucket: View) -> Decision:
    """Only the bucket's state guards a put: per key, the last write in log order wins."""
    data = command.data
    assert isinstance(data, PutObject)
    if not bucket.bucket_exists:
        return Reject("NoSuchBucket", f"The specified bucket does not exist: {data.bucket}")
    return Append(
        subjects.object_(data.bucket, data.key),
        ObjectPut(
            bucket=data.bucket,
            key=data.key,
            blob_id=data.blob_id,
            size=data.size,
            etag=data.md5,
            sha256=data.sha256,
            content_type=data.content_type,
            metadata=data.metadata,
            replicas=[],
        ),
        bucket.seq,
        subjects.bucket_state(data.bucket),
    )


def delete_object(command: Envelope, bucket: View, obj: View) -> Decision:
    data = command.data
    assert isinstance(data, DeleteObject)
    if obj.caused_by(command):
        return AlreadyApplied(obj.seq)
    if not bucket.bucket_exists:
        return Reject("NoSuchBucket", f"The specified bucket does not exist: {data.bucket}")
    if not obj.object_exists:
        return Reject("NoSuchKey", f"The specified key does not exist: {data.key}")
    subject = subjects.object_(data.bucket, data.key)
    return Append(subject, ObjectDeleted(bucket=data.bucket, key=data.key), obj.seq, subject)
