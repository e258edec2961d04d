"""Pure decisions of the s3 service: state + command -> what to append, or a rejection.

State is folded from the log itself (handlers/s3/state.py), so a handler keeps nothing that can
go stale: each append carries the sequence its decision was based on, and JetStream refuses it if
anything changed since (see docs/architecture.md).
"""

from __future__ import annotations

import hashlib

from bus import subjects
from events.envelope import Envelope, Message
from events.s3 import (
    AbortMultipartUpload,
    BucketCorsChanged,
    BucketCreated,
    BucketDeleted,
    BucketPolicyChanged,
    BucketVersioningChanged,
    CommandRejected,
    CompleteMultipartUpload,
    CopyObject,
    CreateBucket,
    CreateMultipartUpload,
    DeleteBucket,
    DeleteMarkerPut,
    DeleteObject,
    MultipartUploadAborted,
    MultipartUploadCompleted,
    MultipartUploadCreated,
    ObjectDeleted,
    ObjectPut,
    ObjectTagsSet,
    PartRef,
    PutBucketCors,
    PutBucketPolicy,
    PutBucketVersioning,
    PutObject,
    PutObjectTagging,
)
from handlers.decision import AlreadyApplied, Append, Appends, Decision, Reject, caused_by
from handlers.s3.rules import bucket_name_problem, key_problem
from handlers.s3.state import Bucket, Object, Upload

MIN_PART_SIZE = 5 * 1024 * 1024


def reject(command: Envelope, decision: Reject) -> CommandRejected:
    data = command.data
    return CommandRejected(
        command=command.type,
        code=decision.code,
        message=decision.message,
        bucket=getattr(data, "bucket", None),
        key=getattr(data, "key", None),
    )


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
    for field in ("key", "source_key"):
        key = getattr(data, field, None)
        if key is not None and (issue := key_problem(key)):
            return Reject(*issue)
    if isinstance(data, PutObject) and data.inline is not None and len(data.inline) != data.size:
        return Reject("IncompleteBody", "Inline body size does not match the declared size.")
    return None


def version_for(command: Envelope, bucket: Bucket) -> str:
    """New versions get an id derived from the command, so a redelivery picks the same one."""
    return command.id.hex if bucket.versioning == "Enabled" else "null"


def no_bucket(name: str) -> Reject:
    return Reject("NoSuchBucket", f"The specified bucket does not exist: {name}")


# ---------------------------------------------------------------- buckets


def create_bucket(command: Envelope, bucket: Bucket) -> Decision:
    data = command.data
    assert isinstance(data, CreateBucket)
    if caused_by(bucket.last, command):
        return AlreadyApplied(bucket.seq)
    if bucket.exists:
        if bucket.owner == command.actor:
            return Reject("BucketAlreadyOwnedByYou", f"You already own bucket {data.bucket}.")
        return Reject("BucketAlreadyExists", f"Bucket {data.bucket} already exists.")
    state = subjects.bucket_state(data.bucket)
    event = BucketCreated(bucket=data.bucket, region=data.region, owner=command.actor)
    return Append(state, event, bucket.seq, state)


def delete_bucket(command: Envelope, bucket: Bucket, everything: int, non_empty: bool) -> Decision:
    """``everything``: the newest sequence under the whole bucket; ``non_empty``: whether any
    version or delete marker was left as of that sequence."""
    data = command.data
    assert isinstance(data, DeleteBucket)
    if caused_by(bucket.last, command):
        return AlreadyApplied(bucket.seq)
    if not bucket.exists:
        return no_bucket(data.bucket)
    if non_empty:
        return Reject("BucketNotEmpty", f"Bucket {data.bucket} is not empty.")
    return Append(
        subjects.bucket_state(data.bucket),
        BucketDeleted(bucket=data.bucket),
        everything,
        subjects.bucket_all(data.bucket),
    )


def bucket_setting(command: Envelope, bucket: Bucket) -> Decision:
    data = command.data
    assert isinstance(data, PutBucketVersioning | PutBucketCors | PutBucketPolicy)
    if caused_by(bucket.last, command):
        return AlreadyApplied(bucket.seq)
    if not bucket.exists:
        return no_bucket(data.bucket)
    event: Message
    if isinstance(data, PutBucketVersioning):
        event = BucketVersioningChanged(bucket=data.bucket, status=data.status)
    elif isinstance(data, PutBucketPolicy):
        event = BucketPolicyChanged(bucket=data.bucket, document=data.document)
    else:
        event = BucketCorsChanged(bucket=data.bucket, rules=data.rules)
    state = subjects.bucket_state(data.bucket)
    return Append(state, event, bucket.seq, state)


# ---------------------------------------------------------------- objects


def put_object(command: Envelope, bucket: Bucket) -> Decision:
    """Only the bucket's state guards a put: per key, the last write in log order wins."""
    data = command.data
    assert isinstance(data, PutObject)
    if not bucket.exists:
        return no_bucket(data.bucket)
    event = ObjectPut(
        bucket=data.bucket,
        key=data.key,
        blob_id=data.blob_id,
        size=data.size,
        etag=data.md5,
        sha256=data.sha256,
        content_type=data.content_type,
        metadata=data.metadata,
        replicas=[],
        version_id=version_for(command, bucket),
        headers=data.headers,
        checksums=data.checksums,
        tags=data.tags,
    )
    return Append(
        subjects.object_(data.bucket, data.key),
        event,
        bucket.seq,
        subjects.bucket_state(data.bucket),
    )


def delete_object(command: Envelope, bucket: Bucket, obj: Object) -> Decision:
    data = command.data
    assert isinstance(data, DeleteObject)
    if caused_by(obj.last, command):
        return AlreadyApplied(obj.seq)
    if not bucket.exists:
        return no_bucket(data.bucket)
    subject = subjects.object_(data.bucket, data.key)
    if data.version_id is not None:
        if data.version_id not in obj.versions:
            return Reject("NoSuchVersion", f"No version {data.version_id} of {data.key}.")
        event: Message = ObjectDeleted(bucket=data.bucket, key=data.key, version_id=data.version_id)
        return Append(subject, event, obj.seq, subject)
    latest = obj.latest
    if bucket.versioning is None:
        if latest is None or latest.is_marker:
            return Reject("NoSuchKey", f"The specified key does not exist: {data.key}")
        event = ObjectDeleted(bucket=data.bucket, key=data.key, version_id=latest.version_id)
        return Append(subject, event, obj.seq, subject)
    if data.must_exist and (latest is None or latest.is_marker):
        return Reject("NoSuchKey", f"The specified key does not exist: {data.key}")
    marker = DeleteMarkerPut(
        bucket=data.bucket, key=data.key, version_id=version_for(command, bucket)
    )
    return Append(subject, marker, obj.seq, subject)


def put_object_tagging(command: Envelope, bucket: Bucket, obj: Object) -> Decision:
    data = command.data
    assert isinstance(data, PutObjectTagging)
    if caused_by(obj.last, command):
        return AlreadyApplied(obj.seq)
    if not bucket.exists:
        return no_bucket(data.bucket)
    version = obj.version(data.version_id)
    if version is None or version.is_marker:
        code = "NoSuchVersion" if data.version_id else "NoSuchKey"
        return Reject(code, f"The specified key does not exist: {data.key}")
    subject = subjects.object_(data.bucket, data.key)
    event = ObjectTagsSet(
        bucket=data.bucket, key=data.key, version_id=version.version_id, tags=data.tags
    )
    return Append(subject, event, obj.seq, subject)


def copy_object(command: Envelope, bucket: Bucket, source: Object) -> Decision:
    """The copy shares the source's stored bytes: nothing is copied, only referenced."""
    data = command.data
    assert isinstance(data, CopyObject)
    if not bucket.exists:
        return no_bucket(data.bucket)
    version = source.version(data.source_version_id)
    if version is None or version.put is None:
        if data.source_version_id and version is None:
            return Reject("NoSuchVersion", f"No version {data.source_version_id} of the source.")
        return Reject("NoSuchKey", f"The specified key does not exist: {data.source_key}")
    src = version.put
    if data.if_match is not None and data.if_match.strip('"') not in (src.etag, "*"):
        return Reject("PreconditionFailed", "x-amz-copy-source-if-match did not hold.")
    if data.if_none_match is not None and data.if_none_match.strip('"') in (src.etag, "*"):
        return Reject("PreconditionFailed", "x-amz-copy-source-if-none-match did not hold.")
    same = (data.bucket, data.key) == (data.source_bucket, data.source_key)
    if same and not data.replace_metadata and data.source_version_id is None:
        return Reject(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes.",
        )
    event = src.model_copy(
        update={
            "bucket": data.bucket,
            "key": data.key,
            "version_id": version_for(command, bucket),
            "content_type": (data.content_type or src.content_type)
            if data.replace_metadata
            else src.content_type,
            "metadata": data.metadata if data.replace_metadata else src.metadata,
            "headers": data.headers if data.replace_metadata else src.headers,
            "tags": data.tags if data.replace_tags else version.tags,
        }
    )
    return Append(
        subjects.object_(data.bucket, data.key),
        event,
        bucket.seq,
        subjects.bucket_state(data.bucket),
    )


# ---------------------------------------------------------------- multipart uploads


def create_multipart(command: Envelope, bucket: Bucket) -> Decision:
    data = command.data
    assert isinstance(data, CreateMultipartUpload)
    if not bucket.exists:
        return no_bucket(data.bucket)
    event = MultipartUploadCreated(
        bucket=data.bucket,
        key=data.key,
        upload_id=data.upload_id,
        initiator=command.actor,
        content_type=data.content_type,
        metadata=data.metadata,
        headers=data.headers,
        tags=data.tags,
        checksum_algorithm=data.checksum_algorithm,
    )
    return Append(
        subjects.upload_state(data.bucket, data.upload_id),
        event,
        bucket.seq,
        subjects.bucket_state(data.bucket),
    )


def no_upload(upload_id: str) -> Reject:
    return Reject(
        "NoSuchUpload",
        f"The specified upload does not exist. The upload ID may be invalid, or the upload may "
        f"have been aborted or completed: {upload_id}",
    )


def complete_multipart(command: Envelope, bucket: Bucket, upload: Upload) -> Decision:
    """The object is put first (guarded by the bucket), then the upload closed (guarded by
    everything under the upload): a crash between the two redoes the second, and an abort racing
    in between cannot free parts the object already references."""
    data = command.data
    assert isinstance(data, CompleteMultipartUpload)
    if caused_by(upload.closed, command):
        return AlreadyApplied(upload.state_seq)
    if not bucket.exists:
        return no_bucket(data.bucket)
    if not upload.is_open or upload.created is None or upload.created.key != data.key:
        return no_upload(data.upload_id)
    if not data.parts:
        return Reject("MalformedXML", "You must specify at least one part.")
    numbers = [n for n, _ in data.parts]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        return Reject("InvalidPartOrder", "The list of parts was not in ascending order.")
    chosen = []
    for i, (number, etag) in enumerate(data.parts):
        part = upload.parts.get(number)
        if part is None or part.etag != etag.strip('"'):
            return Reject("InvalidPart", f"Part {number} was not uploaded or its ETag differs.")
        if part.size < MIN_PART_SIZE and i < len(data.parts) - 1:
            return Reject(
                "EntityTooSmall",
                f"Part {number} is {part.size} bytes; every part but the last must be at least "
                f"{MIN_PART_SIZE} bytes.",
            )
        chosen.append(part)
    etag = multipart_etag([p.etag for p in chosen])
    created = upload.created
    version_id = version_for(command, bucket)
    put = ObjectPut(
        bucket=data.bucket,
        key=data.key,
        blob_id="",
        size=sum(p.size for p in chosen),
        etag=etag,
        sha256="",
        content_type=created.content_type,
        metadata=created.metadata,
        replicas=sorted(set.intersection(*(set(p.replicas) for p in chosen))),
        version_id=version_id,
        parts=[
            PartRef(
                blob_id=p.blob_id, size=p.size, etag=p.etag, sha256=p.sha256, replicas=p.replicas
            )
            for p in chosen
        ],
        headers=created.headers,
        checksums={},
        tags=created.tags,
    )
    done = MultipartUploadCompleted(
        bucket=data.bucket, key=data.key, upload_id=data.upload_id, version_id=version_id, etag=etag
    )
    return Appends(
        (
            Append(
                subjects.object_(data.bucket, data.key),
                put,
                bucket.seq,
                subjects.bucket_state(data.bucket),
            ),
            Append(
                subjects.upload_state(data.bucket, data.upload_id),
                done,
                upload.seq,
                subjects.upload_all(data.bucket, data.upload_id),
            ),
        )
    )


def abort_multipart(command: Envelope, upload: Upload) -> Decision:
    data = command.data
    assert isinstance(data, AbortMultipartUpload)
    if caused_by(upload.closed, command):
        return AlreadyApplied(upload.state_seq)
    if not upload.is_open or upload.created is None or upload.created.key != data.key:
        return no_upload(data.upload_id)
    event = MultipartUploadAborted(bucket=data.bucket, key=data.key, upload_id=data.upload_id)
    return Append(
        subjects.upload_state(data.bucket, data.upload_id),
        event,
        upload.seq,
        subjects.upload_all(data.bucket, data.upload_id),
    )


def multipart_etag(part_etags: list[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for etag in part_etags:
        digest.update(bytes.fromhex(etag))
    return f"{digest.hexdigest()}-{len(part_etags)}"
