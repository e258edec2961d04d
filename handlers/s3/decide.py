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
    BucketTagsChanged,
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
    PartUploaded,
    PutBucketCors,
    PutBucketPolicy,
    PutBucketTagging,
    PutBucketVersioning,
    PutObject,
    PutObjectTagging,
)
from handlers.decision import AlreadyApplied, Append, Appends, Decision, Reject, caused_by
from handlers.s3.rules import bucket_name_problem, key_problem
from handlers.s3.state import Bucket, Object, Upload
from storage import checksums

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
    _, if_none_match = write_conditions(data)
    if if_none_match is not None and if_none_match.strip() != "*":
        return Reject("NotImplemented", "A conditional write takes only '*' in If-None-Match.")
    return None


def version_for(command: Envelope, bucket: Bucket) -> str:
    """New versions get an id derived from the command, so a redelivery picks the same one."""
    return command.id.hex if bucket.versioning == "Enabled" else "null"


def no_bucket(name: str) -> Reject:
    return Reject("NoSuchBucket", f"The specified bucket does not exist: {name}")


# ---------------------------------------------------------------- conditional writes


def write_conditions(data: Message) -> tuple[str | None, str | None]:
    """(If-Match, If-None-Match) a write puts on the object it writes (for a copy: on the
    destination; its ``if_match`` / ``if_none_match`` are about the source)."""
    if isinstance(data, CopyObject):
        return data.dest_if_match, data.dest_if_none_match
    if isinstance(data, PutObject | CompleteMultipartUpload):
        return data.if_match, data.if_none_match
    return None, None


def is_conditional(data: Message) -> bool:
    """A conditional write is decided on the object's state and guarded by the object's subject
    (an unconditional one only by the bucket's state: per key, the last write wins)."""
    return write_conditions(data) != (None, None)


def etag_matches(condition: str, etag: str) -> bool:
    """An If-Match value (one ETag or a comma-separated list, quoted or not, or ``*``)."""
    tags = {t.strip().removeprefix("W/").strip('"') for t in condition.split(",")}
    return "*" in tags or etag in tags


def precondition(data: Message, key: str, obj: Object | None) -> Reject | None:
    """S3's conditional writes, decided on the object as folded from the log: If-None-Match: *
    holds when there is no current object (none, or a delete marker as the latest version);
    If-Match when there is one and its ETag matches (none at all: NoSuchKey)."""
    if_match, if_none_match = write_conditions(data)
    if if_match is None and if_none_match is None:
        return None
    if obj is None:
        raise ValueError("a conditional write is decided on the state of its object")
    latest = obj.latest
    current = None if latest is None else latest.put
    if if_match is not None:
        if current is None:
            return Reject("NoSuchKey", f"The specified key does not exist: {key}")
        if not etag_matches(if_match, current.etag):
            return Reject(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold (If-Match).",
            )
    if if_none_match is not None and current is not None:
        return Reject(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold (If-None-Match).",
        )
    return None


def object_append(
    data: PutObject | CopyObject | CompleteMultipartUpload,
    event: Message,
    bucket: Bucket,
    tail: int,
) -> Append:
    """The append that makes a new version of ``data``'s object.

    Unconditional: guarded by the bucket's state only (per key, the last write in log order
    wins; a DeleteBucket landing first makes it conflict and be decided again).
    Conditional (If-Match / If-None-Match): decided on the key's state *and* the bucket's, read
    no older than ``tail``, the newest sequence under the whole bucket; guarded by that sequence
    on the bucket's wildcard, so neither a write to the key (two racing ``If-None-Match: *``
    puts: exactly one succeeds, the other is decided again and fails) nor a DeleteBucket can
    slip in between. The price: any write in the bucket meanwhile makes it decide again."""
    subject = subjects.object_(data.bucket, data.key)
    if is_conditional(data):
        return Append(subject, event, tail, subjects.bucket_all(data.bucket))
    return Append(subject, event, bucket.seq, subjects.bucket_state(data.bucket))


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
    assert isinstance(
        data, PutBucketVersioning | PutBucketCors | PutBucketPolicy | PutBucketTagging
    )
    if caused_by(bucket.last, command):
        return AlreadyApplied(bucket.seq)
    if not bucket.exists:
        return no_bucket(data.bucket)
    event: Message
    if isinstance(data, PutBucketVersioning):
        event = BucketVersioningChanged(bucket=data.bucket, status=data.status)
    elif isinstance(data, PutBucketPolicy):
        event = BucketPolicyChanged(bucket=data.bucket, document=data.document)
    elif isinstance(data, PutBucketTagging):
        event = BucketTagsChanged(bucket=data.bucket, tags=data.tags)
    else:
        event = BucketCorsChanged(bucket=data.bucket, rules=data.rules)
    state = subjects.bucket_state(data.bucket)
    return Append(state, event, bucket.seq, state)


# ---------------------------------------------------------------- objects


def put_object(
    command: Envelope, bucket: Bucket, obj: Object | None = None, tail: int = 0
) -> Decision:
    """Only the bucket's state guards a put: per key, the last write in log order wins. A
    conditional put (If-Match / If-None-Match) is decided on ``obj``, the key's state, and guarded
    by ``tail``, the bucket's newest sequence (see ``object_append``)."""
    data = command.data
    assert isinstance(data, PutObject)
    if obj is not None and is_conditional(data) and caused_by(obj.last, command):
        return AlreadyApplied(obj.seq)  # a conditional put redelivered: it must not refuse itself
    if not bucket.exists:
        return no_bucket(data.bucket)
    if problem := precondition(data, data.key, obj):
        return problem
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
    return object_append(data, event, bucket, tail)


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


def copy_object(
    command: Envelope, bucket: Bucket, source: Object, dest: Object | None = None, tail: int = 0
) -> Decision:
    """The copy shares the source's stored bytes: nothing is copied, only referenced. With
    If-Match / If-None-Match on the destination it is decided on ``dest`` (the destination key's
    state) like a conditional put."""
    data = command.data
    assert isinstance(data, CopyObject)
    if dest is not None and is_conditional(data) and caused_by(dest.last, command):
        return AlreadyApplied(dest.seq)
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
    if problem := precondition(data, data.key, dest):
        return problem
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
    return object_append(data, event, bucket, tail)


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
        checksum_type=data.checksum_type,
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


def complete_multipart(
    command: Envelope, bucket: Bucket, upload: Upload, obj: Object | None = None, tail: int = 0
) -> Decision:
    """The object is put first (guarded by the bucket), then the upload closed (guarded by
    everything under the upload): a crash between the two redoes the second, and an abort racing
    in between cannot free parts the object already references. A conditional completion
    (If-Match / If-None-Match) is decided on ``obj``, the key's state, and its put guarded by
    ``tail``, the bucket's newest sequence; a failed condition leaves the upload open, as a
    failed part check does."""
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
    # Redelivered after its put but before the upload closed: the put is this command's own.
    if obj is None or not caused_by(obj.last, command):
        if problem := precondition(data, data.key, obj):
            return problem
    etag = multipart_etag([p.etag for p in chosen])
    created = upload.created
    object_checksums = multipart_checksums(created, chosen)
    for algorithm, expected in data.checksums.items():
        if object_checksums.get(algorithm) != expected:
            return Reject(
                "BadDigest",
                f"The {algorithm} checksum you specified for the object did not match the one "
                "computed from its parts.",
            )
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
        checksums=object_checksums,
        tags=created.tags,
    )
    done = MultipartUploadCompleted(
        bucket=data.bucket, key=data.key, upload_id=data.upload_id, version_id=version_id, etag=etag
    )
    return Appends(
        (
            object_append(data, put, bucket, tail),
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


def multipart_checksums(
    created: MultipartUploadCreated, parts: list[PartUploaded]
) -> dict[str, str]:
    """The object's checksum from its parts' (S3: ``COMPOSITE`` or ``FULL_OBJECT``), when the
    upload named an algorithm and every part has a checksum of it (parts copied with
    UploadPartCopy carry none)."""
    algorithm = created.checksum_algorithm
    if algorithm not in checksums.TYPES:
        return {}
    if not all(algorithm in p.checksums for p in parts):
        return {}
    kind = created.checksum_type or checksums.default_type(algorithm)
    values = [(p.checksums[algorithm], p.size) for p in parts]
    return {algorithm: checksums.multipart(algorithm, kind, values)}


def multipart_etag(part_etags: list[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for etag in part_etags:
        digest.update(bytes.fromhex(etag))
    return f"{digest.hexdigest()}-{len(part_etags)}"
