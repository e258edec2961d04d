"""Pure decision logic of the s3 handler: state folded from events + command -> decision."""

from bus import subjects
from bus.log import Stored
from events import Envelope
from events.s3 import (
    AbortMultipartUpload,
    BucketCreated,
    BucketDeleted,
    BucketVersioningChanged,
    CompleteMultipartUpload,
    CopyObject,
    CreateBucket,
    DeleteBucket,
    DeleteMarkerPut,
    DeleteObject,
    MultipartUploadCreated,
    ObjectDeleted,
    ObjectPut,
    ObjectTagsSet,
    PartUploaded,
    PutObject,
    PutObjectTagging,
)
from handlers.decision import AlreadyApplied, Append, Appends, Reject
from handlers.s3 import decide
from handlers.s3.decide import MIN_PART_SIZE
from handlers.s3.state import Bucket, fold_bucket, fold_object, fold_upload, has_versions

MiB = 1024 * 1024


def cmd(data, actor="root") -> Envelope:
    return Envelope.wrap(data, actor=actor)


def stored(seq: int, data, cause: Envelope | None = None) -> Stored:
    env = cause.caused(data) if cause else Envelope.wrap(data, actor="root")
    return Stored(seq, "s", env)


def bucket(seq=3, owner="root", versioning=None) -> Bucket:
    events = [stored(1, BucketCreated(bucket="photos", owner=owner))]
    if versioning:
        events.append(stored(seq, BucketVersioningChanged(bucket="photos", status=versioning)))
    b = fold_bucket(events)
    b.seq = seq
    return b


def put(key="k", version="null", etag="e1", blob="b1") -> ObjectPut:
    return ObjectPut(
        bucket="photos",
        key=key,
        blob_id=blob,
        size=1,
        etag=etag,
        sha256="s",
        content_type="x",
        replicas=["disk"],
        version_id=version,
    )


def put_cmd(key="a/b.txt") -> Envelope:
    return cmd(PutObject(bucket="photos", key=key, blob_id="b1", size=1, md5="m", sha256="s"))


def test_create_of_new_bucket_appends_expecting_no_prior_event() -> None:
    d = decide.create_bucket(cmd(CreateBucket(bucket="photos")), Bucket())
    assert isinstance(d, Append)
    assert d.subject == subjects.bucket_state("photos") and d.expect_seq == 0
    assert isinstance(d.data, BucketCreated) and d.data.owner == "root"


def test_second_create_of_same_bucket_is_rejected() -> None:
    other = decide.create_bucket(cmd(CreateBucket(bucket="photos")), bucket(owner="someone-else"))
    assert isinstance(other, Reject) and other.code == "BucketAlreadyExists"
    own = decide.create_bucket(cmd(CreateBucket(bucket="photos")), bucket())
    assert isinstance(own, Reject) and own.code == "BucketAlreadyOwnedByYou"


def test_create_after_delete_expects_the_delete_sequence() -> None:
    gone = fold_bucket(
        [
            stored(1, BucketCreated(bucket="photos", owner="root")),
            stored(9, BucketDeleted(bucket="photos")),
        ]
    )
    d = decide.create_bucket(cmd(CreateBucket(bucket="photos")), gone)
    assert isinstance(d, Append) and d.expect_seq == 9


def test_redelivered_create_is_recognised_as_applied() -> None:
    c = cmd(CreateBucket(bucket="photos"))
    b = fold_bucket([stored(4, BucketCreated(bucket="photos", owner="root"), cause=c)])
    assert decide.create_bucket(c, b) == AlreadyApplied(4)


def test_put_into_missing_bucket_is_rejected() -> None:
    d = decide.put_object(put_cmd(), Bucket())
    assert isinstance(d, Reject) and d.code == "NoSuchBucket"


def test_put_is_guarded_by_the_bucket_state_sequence_only() -> None:
    d = decide.put_object(put_cmd(), bucket(seq=12))
    assert isinstance(d, Append) and isinstance(d.data, ObjectPut)
    assert d.subject == subjects.object_("photos", "a/b.txt")
    assert d.expect_subject == subjects.bucket_state("photos") and d.expect_seq == 12
    assert d.data.version_id == "null"


def test_put_in_versioned_bucket_gets_a_version_derived_from_the_command() -> None:
    c = put_cmd()
    d = decide.put_object(c, bucket(versioning="Enabled"))
    assert isinstance(d, Append) and d.data.version_id == c.id.hex  # type: ignore[attr-defined]
    d = decide.put_object(c, bucket(versioning="Suspended"))
    assert isinstance(d, Append) and d.data.version_id == "null"  # type: ignore[attr-defined]


def test_delete_bucket_with_versions_left_is_rejected() -> None:
    c = cmd(DeleteBucket(bucket="photos"))
    d = decide.delete_bucket(c, bucket(), everything=20, non_empty=True)
    assert isinstance(d, Reject) and d.code == "BucketNotEmpty"
    d = decide.delete_bucket(c, bucket(), everything=20, non_empty=False)
    assert isinstance(d, Append) and isinstance(d.data, BucketDeleted)
    assert d.expect_seq == 20 and d.expect_subject == subjects.bucket_all("photos")
    d = decide.delete_bucket(c, Bucket(), 0, False)
    assert isinstance(d, Reject) and d.code == "NoSuchBucket"


def test_has_versions_counts_delete_markers_and_forgets_deleted_versions() -> None:
    assert not has_versions([stored(1, put()), stored(2, ObjectDeleted(bucket="photos", key="k"))])
    assert has_versions([stored(1, DeleteMarkerPut(bucket="photos", key="k", version_id="v"))])
    assert has_versions(
        [
            stored(1, put(version="v1")),
            stored(2, put(version="v2")),
            stored(3, ObjectDeleted(bucket="photos", key="k", version_id="v1")),
        ]
    )


def test_delete_object_in_unversioned_bucket_needs_a_live_object() -> None:
    c = cmd(DeleteObject(bucket="photos", key="k"))
    d = decide.delete_object(c, bucket(), fold_object([]))
    assert isinstance(d, Reject) and d.code == "NoSuchKey"
    d = decide.delete_object(c, bucket(), fold_object([stored(6, put())]))
    assert isinstance(d, Append) and isinstance(d.data, ObjectDeleted)
    assert d.expect_seq == 6 and d.expect_subject == d.subject


def test_delete_in_versioned_bucket_puts_a_marker_and_version_delete_removes_it() -> None:
    history = [stored(5, put(version="v1"))]
    c = cmd(DeleteObject(bucket="photos", key="k", must_exist=False))
    d = decide.delete_object(c, bucket(versioning="Enabled"), fold_object(history))
    assert isinstance(d, Append) and isinstance(d.data, DeleteMarkerPut)
    assert d.data.version_id == c.id.hex
    c2 = cmd(DeleteObject(bucket="photos", key="k", version_id="v1"))
    d = decide.delete_object(c2, bucket(versioning="Enabled"), fold_object(history))
    assert isinstance(d, Append) and d.data == ObjectDeleted(
        bucket="photos", key="k", version_id="v1"
    )
    c3 = cmd(DeleteObject(bucket="photos", key="k", version_id="nope"))
    d = decide.delete_object(c3, bucket(versioning="Enabled"), fold_object(history))
    assert isinstance(d, Reject) and d.code == "NoSuchVersion"


def test_tagging_targets_the_latest_version_and_needs_it_alive() -> None:
    obj = fold_object([stored(1, put(version="v1")), stored(2, put(version="v2"))])
    d = decide.put_object_tagging(
        cmd(PutObjectTagging(bucket="photos", key="k", tags={"a": "1"})), bucket(), obj
    )
    assert isinstance(d, Append) and isinstance(d.data, ObjectTagsSet) and d.data.version_id == "v2"
    gone = fold_object([stored(1, put()), stored(2, ObjectDeleted(bucket="photos", key="k"))])
    d = decide.put_object_tagging(
        cmd(PutObjectTagging(bucket="photos", key="k", tags={})), bucket(), gone
    )
    assert isinstance(d, Reject) and d.code == "NoSuchKey"


def test_copy_references_the_source_bytes_and_honours_directives() -> None:
    src = fold_object(
        [
            stored(1, put(key="src", blob="blobX")),
            stored(
                2, ObjectTagsSet(bucket="photos", key="src", version_id="null", tags={"t": "1"})
            ),
        ]
    )
    c = cmd(CopyObject(bucket="photos", key="dst", source_bucket="photos", source_key="src"))
    d = decide.copy_object(c, bucket(), src)
    assert isinstance(d, Append) and isinstance(d.data, ObjectPut)
    assert d.data.blob_id == "blobX" and d.data.key == "dst" and d.data.tags == {"t": "1"}
    self_copy = cmd(
        CopyObject(bucket="photos", key="src", source_bucket="photos", source_key="src")
    )
    r = decide.copy_object(self_copy, bucket(), src)
    assert isinstance(r, Reject) and r.code == "InvalidRequest"
    cond = cmd(
        CopyObject(
            bucket="photos", key="d", source_bucket="photos", source_key="src", if_match='"other"'
        )
    )
    r = decide.copy_object(cond, bucket(), src)
    assert isinstance(r, Reject) and r.code == "PreconditionFailed"


def upload(parts: dict[int, int]) -> list[Stored]:
    events = [
        stored(
            1, MultipartUploadCreated(bucket="photos", key="k", upload_id="u1", initiator="root")
        )
    ]
    for i, (n, size) in enumerate(parts.items()):
        events.append(
            stored(
                2 + i,
                PartUploaded(
                    bucket="photos",
                    key="k",
                    upload_id="u1",
                    part_number=n,
                    blob_id=f"p{n}",
                    size=size,
                    etag=f"{n:032x}",
                    sha256="s",
                    replicas=["disk"],
                ),
            )
        )
    return events


def complete(parts: list[tuple[int, str]]) -> Envelope:
    return cmd(CompleteMultipartUpload(bucket="photos", key="k", upload_id="u1", parts=parts))


def test_complete_puts_the_object_then_closes_the_upload() -> None:
    u = fold_upload(upload({1: 5 * MiB, 2: 5 * MiB, 3: 10}))
    d = decide.complete_multipart(
        complete([(1, f"{1:032x}"), (2, f"{2:032x}"), (3, f"{3:032x}")]), bucket(), u
    )
    assert isinstance(d, Appends) and len(d.steps) == 2
    obj, done = d.steps
    assert isinstance(obj.data, ObjectPut) and [p.blob_id for p in obj.data.parts] == [
        "p1",
        "p2",
        "p3",
    ]
    assert obj.data.size == 10 * MiB + 10 and obj.data.etag.endswith("-3")
    assert obj.data.etag == decide.multipart_etag([f"{n:032x}" for n in (1, 2, 3)])
    assert done.expect_subject == subjects.upload_all("photos", "u1") and done.expect_seq == u.seq


def test_complete_checks_order_etags_and_part_sizes() -> None:
    u = fold_upload(upload({1: 5 * MiB, 2: 10, 3: 10}))
    order = decide.complete_multipart(complete([(2, f"{2:032x}"), (1, f"{1:032x}")]), bucket(), u)
    assert isinstance(order, Reject) and order.code == "InvalidPartOrder"
    etag = decide.complete_multipart(complete([(1, "bad")]), bucket(), u)
    assert isinstance(etag, Reject) and etag.code == "InvalidPart"
    small = decide.complete_multipart(complete([(2, f"{2:032x}"), (3, f"{3:032x}")]), bucket(), u)
    assert isinstance(small, Reject) and small.code == "EntityTooSmall"
    assert MIN_PART_SIZE == 5 * MiB


def test_closed_or_unknown_uploads_are_no_such_upload() -> None:
    u = fold_upload(upload({1: 10}))
    abort = cmd(AbortMultipartUpload(bucket="photos", key="k", upload_id="u1"))
    assert isinstance(decide.abort_multipart(abort, u), Append)
    closed = fold_upload(
        [
            *upload({1: 10}),
            stored(
                9,
                decide.MultipartUploadAborted(bucket="photos", key="k", upload_id="u1"),
                cause=abort,
            ),
        ]
    )
    assert decide.abort_multipart(abort, closed) == AlreadyApplied(9)
    other = cmd(AbortMultipartUpload(bucket="photos", key="k", upload_id="u1"))
    r = decide.abort_multipart(other, closed)
    assert isinstance(r, Reject) and r.code == "NoSuchUpload"
    r = decide.complete_multipart(complete([(1, f"{1:032x}")]), bucket(), fold_upload([]))
    assert isinstance(r, Reject) and r.code == "NoSuchUpload"


def test_validation_rejects_bad_names_before_any_state_is_read() -> None:
    r = decide.validate(cmd(CreateBucket(bucket="Bad_Name")))
    assert r is not None and r.code == "InvalidBucketName"
    long_key = PutObject(bucket="photos", key="k" * 1025, blob_id="b", size=0, md5="m", sha256="s")
    r = decide.validate(cmd(long_key))
    assert r is not None and r.code == "KeyTooLongError"
    short = PutObject(
        bucket="photos", key="k", blob_id="b", size=5, md5="m", sha256="s", inline=b"abc"
    )
    r = decide.validate(cmd(short))
    assert r is not None and r.code == "IncompleteBody"
    assert decide.validate(put_cmd()) is None


def test_bucket_tagging_replaces_the_tag_set_guarded_by_the_bucket_state() -> None:
    from events.s3 import BucketTagsChanged, PutBucketTagging

    b = bucket(seq=3)
    command = cmd(PutBucketTagging(bucket="photos", tags={"team": "data"}))
    d = decide.bucket_setting(command, b)
    assert isinstance(d, Append) and d.data == BucketTagsChanged(
        bucket="photos", tags={"team": "data"}
    )
    assert d.subject == d.expect_subject == subjects.bucket_state("photos") and d.expect_seq == 3
    folded = fold_bucket(
        [
            stored(1, BucketCreated(bucket="photos", owner="root")),
            stored(2, d.data, cause=command),
        ]
    )
    assert folded.tags == {"team": "data"}
    assert decide.bucket_setting(command, folded) == AlreadyApplied(2)
    # re-created buckets start without tags
    again = fold_bucket(
        [
            stored(1, BucketCreated(bucket="photos", owner="root")),
            stored(2, d.data),
            stored(3, BucketDeleted(bucket="photos")),
            stored(4, BucketCreated(bucket="photos", owner="root")),
        ]
    )
    assert again.tags == {}
    gone = decide.bucket_setting(cmd(PutBucketTagging(bucket="photos", tags={})), Bucket())
    assert isinstance(gone, Reject) and gone.code == "NoSuchBucket"
