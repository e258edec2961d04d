"""Pure decision logic of the s3 handler: state (views of the log) + command -> decision."""

from bus import subjects
from events import Envelope
from events.s3 import (
    BucketCreated,
    BucketDeleted,
    CreateBucket,
    DeleteBucket,
    DeleteObject,
    ObjectDeleted,
    ObjectPut,
    PutObject,
)
from handlers.s3 import decide
from handlers.s3.decide import AlreadyApplied, Append, Reject, View


def cmd(data, actor="root") -> Envelope:
    return Envelope.wrap(data, actor=actor)


def created(bucket="photos", owner="root", cause=None) -> Envelope:
    e = Envelope.wrap(BucketCreated(bucket=bucket, owner=owner), actor=owner)
    return e if cause is None else cause.caused(BucketCreated(bucket=bucket, owner=owner))


def put_cmd(key="a/b.txt") -> Envelope:
    return cmd(PutObject(bucket="photos", key=key, blob_id="b1", size=1, md5="m", sha256="s"))


def object_put(key="a/b.txt") -> Envelope:
    return Envelope.wrap(
        ObjectPut(
            bucket="photos",
            key=key,
            blob_id="b1",
            size=1,
            etag="m",
            sha256="s",
            content_type="x",
            replicas=["disk"],
        ),
        actor="root",
    )


def test_create_of_new_bucket_appends_expecting_no_prior_event() -> None:
    d = decide.create_bucket(cmd(CreateBucket(bucket="photos")), View())
    assert isinstance(d, Append)
    assert d.subject == subjects.bucket_state("photos") and d.expect_seq == 0
    assert isinstance(d.data, BucketCreated) and d.data.owner == "root"


def test_second_create_of_same_bucket_is_rejected() -> None:
    existing = View(7, created(owner="someone-else"))
    d = decide.create_bucket(cmd(CreateBucket(bucket="photos")), existing)
    assert d == Reject("BucketAlreadyExists", "Bucket photos already exists.")
    own = decide.create_bucket(cmd(CreateBucket(bucket="photos")), View(7, created(owner="root")))
    assert isinstance(own, Reject) and own.code == "BucketAlreadyOwnedByYou"


def test_create_after_delete_expects_the_delete_sequence() -> None:
    deleted = View(9, Envelope.wrap(BucketDeleted(bucket="photos"), actor="root"))
    d = decide.create_bucket(cmd(CreateBucket(bucket="photos")), deleted)
    assert isinstance(d, Append) and d.expect_seq == 9


def test_redelivered_create_is_recognised_as_applied() -> None:
    c = cmd(CreateBucket(bucket="photos"))
    assert decide.create_bucket(c, View(4, created(cause=c))) == AlreadyApplied(4)


def test_put_into_missing_bucket_is_rejected() -> None:
    d = decide.put_object(put_cmd(), View())
    assert isinstance(d, Reject) and d.code == "NoSuchBucket"


def test_put_is_guarded_by_the_bucket_state_sequence_only() -> None:
    d = decide.put_object(put_cmd(), View(12, created()))
    assert isinstance(d, Append)
    assert d.subject == subjects.object_("photos", "a/b.txt")
    assert d.expect_subject == subjects.bucket_state("photos") and d.expect_seq == 12


def test_delete_bucket_with_live_objects_is_rejected() -> None:
    c = cmd(DeleteBucket(bucket="photos"))
    d = decide.delete_bucket(c, View(3, created()), View(20), live_objects=1)
    assert isinstance(d, Reject) and d.code == "BucketNotEmpty"


def test_delete_of_empty_bucket_is_guarded_by_everything_under_the_bucket() -> None:
    c = cmd(DeleteBucket(bucket="photos"))
    d = decide.delete_bucket(c, View(3, created()), View(20), live_objects=0)
    assert isinstance(d, Append) and isinstance(d.data, BucketDeleted)
    assert d.expect_seq == 20 and d.expect_subject == subjects.bucket_all("photos")


def test_delete_of_missing_bucket_is_rejected() -> None:
    d = decide.delete_bucket(cmd(DeleteBucket(bucket="photos")), View(), View(), 0)
    assert isinstance(d, Reject) and d.code == "NoSuchBucket"


def test_delete_object_needs_a_live_object() -> None:
    c = cmd(DeleteObject(bucket="photos", key="k"))
    gone = View(5, Envelope.wrap(ObjectDeleted(bucket="photos", key="k"), actor="root"))
    assert decide.delete_object(c, View(1, created()), View()).code == "NoSuchKey"  # type: ignore[union-attr]
    assert decide.delete_object(c, View(1, created()), gone).code == "NoSuchKey"  # type: ignore[union-attr]
    d = decide.delete_object(c, View(1, created()), View(6, object_put("k")))
    assert isinstance(d, Append) and d.expect_seq == 6 and d.expect_subject == d.subject


def test_validation_rejects_bad_names_before_any_state_is_read() -> None:
    r = decide.validate(cmd(CreateBucket(bucket="Bad_Name")))
    assert r is not None and r.code == "InvalidBucketName"
    r = decide.validate(
        cmd(PutObject(bucket="photos", key="k" * 1025, blob_id="b", size=0, md5="m", sha256="s"))
    )
    assert r is not None and r.code == "KeyTooLongError"
    r = decide.validate(
        cmd(
            PutObject(
                bucket="photos", key="k", blob_id="b", size=5, md5="m", sha256="s", inline=b"abc"
            )
        )
    )
    assert r is not None and r.code == "IncompleteBody"
    assert decide.validate(put_cmd()) is None
