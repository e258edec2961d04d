"""Conditional writes (If-Match / If-None-Match on PutObject, CopyObject, CompleteMultipartUpload),
decided purely on state folded from the log."""

from __future__ import annotations

from typing import Any

import pytest

from bus import subjects
from bus.log import Stored
from events import Envelope
from events.s3 import (
    BucketCreated,
    BucketVersioningChanged,
    CompleteMultipartUpload,
    CopyObject,
    DeleteMarkerPut,
    MultipartUploadCompleted,
    MultipartUploadCreated,
    ObjectDeleted,
    ObjectPut,
    PartUploaded,
    PutObject,
    ReplicaAdded,
)
from handlers.decision import AlreadyApplied, Append, Appends, Reject
from handlers.s3 import decide
from handlers.s3.state import Bucket, Object, fold_bucket, fold_object, fold_upload

KEY = "docs/a.txt"


def cmd(data: Any) -> Envelope:
    return Envelope.wrap(data, actor="root")


def stored(seq: int, data: Any, cause: Envelope | None = None) -> Stored:
    return Stored(seq, "s", cause.caused(data) if cause else Envelope.wrap(data, actor="root"))


def bucket(versioning: str | None = None) -> Bucket:
    events = [stored(1, BucketCreated(bucket="photos", owner="root"))]
    if versioning:
        events.append(stored(2, BucketVersioningChanged(bucket="photos", status=versioning)))
    return fold_bucket(events)


def put_event(etag: str = "e1", version: str = "null", key: str = KEY) -> ObjectPut:
    return ObjectPut(
        bucket="photos",
        key=key,
        blob_id=f"blob-{etag}",
        size=1,
        etag=etag,
        sha256="s",
        content_type="x",
        replicas=["disk"],
        version_id=version,
    )


def existing(etag: str = "e1", seq: int = 7) -> Object:
    return fold_object([stored(seq, put_event(etag))])


def put(**conditions: str) -> Envelope:
    return cmd(
        PutObject(
            bucket="photos", key=KEY, blob_id="new", size=1, md5="e2", sha256="s", **conditions
        )
    )


def code(decision: object) -> str:
    assert isinstance(decision, Reject), decision
    return decision.code


# ---------------------------------------------------------------- PutObject: If-None-Match


def test_if_none_match_on_a_new_key_appends_guarded_by_everything_in_the_bucket() -> None:
    d = decide.put_object(put(if_none_match="*"), bucket(), Object(), 12)
    assert isinstance(d, Append) and isinstance(d.data, ObjectPut)
    assert d.subject == subjects.object_("photos", KEY)
    # nothing in the bucket (this key, its state: a DeleteBucket) may land after sequence 12
    assert d.expect_subject == subjects.bucket_all("photos")
    assert d.expect_seq == 12
    assert d.data.etag == "e2" and d.data.blob_id == "new"


def test_if_none_match_on_an_existing_key_is_a_precondition_failure() -> None:
    assert code(decide.put_object(put(if_none_match="*"), bucket(), existing())) == (
        "PreconditionFailed"
    )


def test_if_none_match_after_a_delete_succeeds_expecting_the_delete() -> None:
    obj = fold_object(
        [
            stored(4, put_event()),
            stored(9, ObjectDeleted(bucket="photos", key=KEY, version_id="null")),
        ]
    )
    d = decide.put_object(put(if_none_match="*"), bucket(), obj, 9)
    assert isinstance(d, Append) and d.expect_seq == 9
    assert d.expect_subject == subjects.bucket_all("photos")


def test_a_delete_marker_as_latest_version_counts_as_no_object() -> None:
    obj = fold_object(
        [
            stored(4, put_event(version="v1")),
            stored(6, DeleteMarkerPut(bucket="photos", key=KEY, version_id="m1")),
        ]
    )
    c = put(if_none_match="*")
    d = decide.put_object(c, bucket("Enabled"), obj, 6)
    assert isinstance(d, Append) and d.expect_seq == 6
    assert isinstance(d.data, ObjectPut) and d.data.version_id == c.id.hex
    # ... and If-Match finds nothing to match
    assert code(decide.put_object(put(if_match='"e1"'), bucket("Enabled"), obj)) == "NoSuchKey"


def test_an_older_version_under_a_newer_put_still_counts() -> None:
    obj = fold_object(
        [
            stored(4, DeleteMarkerPut(bucket="photos", key=KEY, version_id="m1")),
            stored(6, put_event(version="v2")),
        ]
    )
    assert code(decide.put_object(put(if_none_match="*"), bucket("Enabled"), obj)) == (
        "PreconditionFailed"
    )


def test_two_racing_puts_decided_on_the_same_state_expect_the_same_sequence() -> None:
    """The log accepts only the first append at that sequence; the loser, decided again on the
    state that now holds the winner's put, is refused."""
    first, second = put(if_none_match="*"), put(if_none_match="*")
    a = decide.put_object(first, bucket(), Object())
    b = decide.put_object(second, bucket(), Object())
    assert isinstance(a, Append) and isinstance(b, Append)
    assert (a.expect_subject, a.expect_seq) == (b.expect_subject, b.expect_seq)
    after = fold_object([stored(1, a.data, cause=first)])
    assert code(decide.put_object(second, bucket(), after)) == "PreconditionFailed"


def test_a_replica_event_does_not_change_the_answer() -> None:
    replica = ReplicaAdded(
        bucket="photos", key=KEY, version_id="null", blob_id="blob-e1", sidecar="nas"
    )
    obj = fold_object([stored(4, put_event()), stored(8, replica)])
    d = decide.put_object(put(if_match="e1"), bucket(), obj, 8)
    assert isinstance(d, Append) and d.expect_seq == 8


def test_a_redelivered_conditional_put_is_recognised_not_refused() -> None:
    c = put(if_none_match="*")
    d = decide.put_object(c, bucket(), Object())
    assert isinstance(d, Append)
    obj = fold_object([stored(11, d.data, cause=c)])
    assert decide.put_object(c, bucket(), obj) == AlreadyApplied(11)


def test_unconditional_puts_keep_the_bucket_guard_and_ignore_the_object() -> None:
    d = decide.put_object(put(), bucket(), existing())
    assert isinstance(d, Append)
    assert d.expect_subject == subjects.bucket_state("photos") and d.expect_seq == 1


def test_a_conditional_put_needs_the_object_state() -> None:
    with pytest.raises(ValueError):
        decide.put_object(put(if_none_match="*"), bucket(), None)


def test_missing_bucket_wins_over_the_condition() -> None:
    assert code(decide.put_object(put(if_match="e1"), Bucket(), Object())) == "NoSuchBucket"


@pytest.mark.parametrize("value", ['"e2"', "e2", "etag", '"e1", "e2"', 'W/"e1"'])
def test_if_none_match_takes_only_a_star(value: str) -> None:
    problem = decide.validate(put(if_none_match=value))
    assert problem is not None and problem.code == "NotImplemented"
    assert decide.validate(put(if_none_match=" * ")) is None


# ---------------------------------------------------------------- PutObject: If-Match


@pytest.mark.parametrize("value", ["e1", '"e1"', ' "e1" ', '"zz", "e1"', "*"])
def test_if_match_with_the_current_etag_puts_guarded_by_the_bucket_tail(value: str) -> None:
    d = decide.put_object(put(if_match=value), bucket(), existing("e1", seq=7), 7)
    assert isinstance(d, Append) and d.expect_seq == 7
    assert d.expect_subject == subjects.bucket_all("photos")


@pytest.mark.parametrize("value", ["e2", '"e1x"', '"E1"', ""])
def test_if_match_with_another_etag_is_a_precondition_failure(value: str) -> None:
    assert code(decide.put_object(put(if_match=value), bucket(), existing("e1"))) == (
        "PreconditionFailed"
    )


def test_if_match_without_an_object_is_no_such_key() -> None:
    assert code(decide.put_object(put(if_match="e1"), bucket(), Object())) == "NoSuchKey"


def test_if_match_and_if_none_match_together_cannot_both_hold() -> None:
    both = put(if_match="e1", if_none_match="*")
    assert code(decide.put_object(both, bucket(), existing("e1"))) == "PreconditionFailed"
    assert code(decide.put_object(both, bucket(), Object())) == "NoSuchKey"


# ---------------------------------------------------------------- CompleteMultipartUpload


def upload_events(key: str = KEY) -> list[Stored]:
    return [
        stored(
            20,
            MultipartUploadCreated(bucket="photos", key=key, upload_id="up1", initiator="root"),
        ),
        stored(
            21,
            PartUploaded(
                bucket="photos",
                key=key,
                upload_id="up1",
                part_number=1,
                blob_id="p1",
                size=3,
                etag="aa",
                sha256="s",
                replicas=["disk"],
            ),
        ),
    ]


def complete(**conditions: str) -> Envelope:
    return cmd(
        CompleteMultipartUpload(
            bucket="photos", key=KEY, upload_id="up1", parts=[(1, '"aa"')], **conditions
        )
    )


def test_complete_with_if_none_match_on_an_existing_key_fails_and_leaves_the_upload() -> None:
    d = decide.complete_multipart(
        complete(if_none_match="*"), bucket(), fold_upload(upload_events()), existing()
    )
    assert code(d) == "PreconditionFailed"


def test_complete_with_if_none_match_on_a_new_key_guards_its_put_by_the_bucket_tail() -> None:
    d = decide.complete_multipart(
        complete(if_none_match="*"), bucket(), fold_upload(upload_events()), Object(), 4
    )
    assert isinstance(d, Appends)
    put_step, close_step = d.steps
    assert isinstance(put_step.data, ObjectPut) and put_step.data.size == 3
    assert put_step.expect_subject == subjects.bucket_all("photos")
    assert put_step.expect_seq == 4
    assert close_step.expect_subject == subjects.upload_all("photos", "up1")


def test_complete_with_if_match() -> None:
    upload = fold_upload(upload_events())
    d = decide.complete_multipart(complete(if_match='"e1"'), bucket(), upload, existing("e1", 7), 7)
    assert isinstance(d, Appends) and d.steps[0].expect_seq == 7
    wrong = decide.complete_multipart(complete(if_match='"e9"'), bucket(), upload, existing("e1"))
    assert code(wrong) == "PreconditionFailed"
    none = decide.complete_multipart(complete(if_match='"e1"'), bucket(), upload, Object())
    assert code(none) == "NoSuchKey"


def test_complete_redelivered_between_its_two_appends_finishes_instead_of_refusing() -> None:
    c = complete(if_none_match="*")
    upload = fold_upload(upload_events())
    first = decide.complete_multipart(c, bucket(), upload, Object())
    assert isinstance(first, Appends)
    # the crash came after the object's put: the key now holds this command's own put
    obj = fold_object([stored(30, first.steps[0].data, cause=c)])
    again = decide.complete_multipart(c, bucket(), upload, obj)
    assert isinstance(again, Appends)
    assert [s.data for s in again.steps] == [s.data for s in first.steps]  # same put, same close
    assert again.steps[1] == first.steps[1]
    # once the upload is closed too, it is simply applied
    done = MultipartUploadCompleted(
        bucket="photos", key=KEY, upload_id="up1", version_id="null", etag="x"
    )
    closed = fold_upload([*upload_events(), stored(31, done, cause=c)])
    assert decide.complete_multipart(c, bucket(), closed, obj) == AlreadyApplied(31)


def test_complete_checks_the_parts_before_the_condition() -> None:
    c = cmd(
        CompleteMultipartUpload(
            bucket="photos", key=KEY, upload_id="up1", parts=[(1, '"bb"')], if_none_match="*"
        )
    )
    assert (
        code(decide.complete_multipart(c, bucket(), fold_upload(upload_events()), existing()))
        == "InvalidPart"
    )


# ---------------------------------------------------------------- CopyObject (destination)


def source() -> Object:
    return fold_object([stored(3, put_event("src", key="src.txt"))])


def copy(**conditions: str) -> Envelope:
    return cmd(
        CopyObject(
            bucket="photos", key=KEY, source_bucket="photos", source_key="src.txt", **conditions
        )
    )


def test_copy_with_if_none_match_onto_an_existing_key_fails() -> None:
    d = decide.copy_object(copy(dest_if_none_match="*"), bucket(), source(), existing())
    assert code(d) == "PreconditionFailed"


def test_copy_with_if_none_match_onto_a_new_key_is_guarded_by_the_bucket_tail() -> None:
    d = decide.copy_object(copy(dest_if_none_match="*"), bucket(), source(), Object(), 3)
    assert isinstance(d, Append) and isinstance(d.data, ObjectPut)
    assert d.data.etag == "src" and d.data.key == KEY
    assert d.expect_subject == subjects.bucket_all("photos") and d.expect_seq == 3


def test_copy_with_if_match_on_the_destination() -> None:
    d = decide.copy_object(copy(dest_if_match='"e1"'), bucket(), source(), existing("e1", 5), 5)
    assert isinstance(d, Append) and d.expect_seq == 5
    wrong = decide.copy_object(copy(dest_if_match='"src"'), bucket(), source(), existing("e1"))
    assert code(wrong) == "PreconditionFailed"
    none = decide.copy_object(copy(dest_if_match='"e1"'), bucket(), source(), Object())
    assert code(none) == "NoSuchKey"


def test_source_and_destination_conditions_are_separate() -> None:
    # x-amz-copy-source-if-match names the source's ETag, If-None-Match the destination
    c = copy(if_match='"src"', dest_if_none_match="*")
    assert isinstance(decide.copy_object(c, bucket(), source(), Object()), Append)
    assert code(decide.copy_object(c, bucket(), source(), existing())) == "PreconditionFailed"
    assert decide.is_conditional(c.data)
    assert not decide.is_conditional(copy(if_match='"src"', if_none_match='"x"').data)


def test_a_redelivered_conditional_copy_is_recognised() -> None:
    c = copy(dest_if_none_match="*")
    d = decide.copy_object(c, bucket(), source(), Object())
    assert isinstance(d, Append)
    dest = fold_object([stored(12, d.data, cause=c)])
    assert decide.copy_object(c, bucket(), source(), dest) == AlreadyApplied(12)


def test_old_logged_commands_without_conditions_still_load() -> None:
    raw = {"bucket": "photos", "key": KEY, "blob_id": "b", "size": 0, "md5": "m", "sha256": "s"}
    data = PutObject.model_validate(raw)
    assert (data.if_match, data.if_none_match) == (None, None)
    assert not decide.is_conditional(data)
    done = CompleteMultipartUpload.model_validate(
        {"bucket": "photos", "key": KEY, "upload_id": "u", "parts": [[1, "e"]]}
    )
    assert not decide.is_conditional(done)
