"""Replica sets (storage/replicas.py) and how a caught-up replica folds into object state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bus.log import Stored
from events import Envelope, Message, new_id
from events.s3 import ObjectPut, PartRef, ReplicaAdded
from handlers.s3.state import fold_object
from storage.replicas import common, merged, missing, read_order, tally, with_replica


def test_a_caught_up_replica_is_added_once_at_the_end() -> None:
    assert with_replica(["d2", "d1"], "d3") == ["d2", "d1", "d3"]
    assert with_replica(["d2", "d1"], "d1") == ["d2", "d1"]
    assert with_replica([], "d1") == ["d1"]


def test_merged_keeps_the_first_order_and_adds_the_rest() -> None:
    assert merged(["d2", "d1"], ["d1", "d3", "d2"]) == ["d2", "d1", "d3"]
    assert merged([], ["d1"]) == ["d1"]


def test_common_replicas_of_parts_are_those_holding_every_part() -> None:
    assert common([["d1", "d2", "d3"], ["d3", "d1"], ["d1", "d3"]]) == ["d1", "d3"]
    assert common([["d2"], ["d1"]]) == []
    assert common([]) == []


def test_missing_sidecars_are_listed_in_configuration_order() -> None:
    assert missing(["d3"], ["d1", "d2", "d3"]) == ["d1", "d2"]
    assert missing(["d1", "d2", "gone"], ["d1", "d2"]) == []


def test_readers_try_recorded_replicas_in_order_and_skip_unknown_sidecars() -> None:
    available = {"d1": object(), "d2": object()}
    assert read_order(["d2", "old", "d1", "d2"], available) == ["d2", "d1"]
    assert read_order(["old"], available) == []


def test_tally_counts_blobs_per_sidecar_and_under_replicated_ones() -> None:
    groups = [(["d1", "d2", "d3"], 10), (["d1", "d2"], 3), (["d3", "gone"], 2), ([], 1)]
    per_sidecar, under = tally(groups, ["d1", "d2", "d3"])
    assert per_sidecar == {"d1": 13, "d2": 13, "d3": 12}
    assert under == 6


def _stored(seq: int, data: Message, *, caused: bool = True) -> Stored:
    envelope = Envelope.wrap(data, actor="root", causation_id=new_id() if caused else None)
    envelope = envelope.model_copy(update={"at": datetime(2026, 1, 1, tzinfo=UTC)})
    return Stored(seq=seq, subject="evt.s3.bucket.b.object.k", envelope=envelope)


def _put(key: str, blob: str, **extra: Any) -> ObjectPut:
    return ObjectPut(
        bucket="b", key=key, blob_id=blob, size=3, etag="e", sha256="s",
        content_type="text/plain", replicas=["d1"], **extra,
    )  # fmt: skip


def test_a_caught_up_replica_updates_the_folded_put_but_not_the_last_outcome() -> None:
    put = _stored(1, _put("k", "A"))
    obj = fold_object(
        [
            put,
            _stored(
                2,
                ReplicaAdded(bucket="b", key="k", version_id="null", blob_id="A", sidecar="d2"),
                caused=False,
            ),
        ]
    )
    assert obj.seq == 2  # appends guarded by the subject must see it
    assert obj.last is put.envelope  # a redelivered command still recognises its own event
    latest = obj.latest
    assert latest is not None and latest.put is not None
    assert latest.put.replicas == ["d1", "d2"]  # a copy decided now names both


def test_a_caught_up_part_updates_the_multipart_version() -> None:
    parts = [
        PartRef(blob_id="P1", size=3, etag="e", replicas=["d1", "d2"]),
        PartRef(blob_id="P2", size=3, etag="e", replicas=["d1"]),
    ]
    obj = fold_object(
        [
            _stored(1, _put("k", "", parts=parts)),
            _stored(2, ReplicaAdded(bucket="b", key="k", blob_id="P2", sidecar="d2")),
            _stored(3, ReplicaAdded(bucket="b", key="k", blob_id="other", sidecar="d3")),
        ]
    )
    latest = obj.latest
    assert latest is not None and latest.put is not None
    assert [p.replicas for p in latest.put.parts] == [["d1", "d2"], ["d1", "d2"]]
    assert latest.put.replicas == ["d1", "d2"]
