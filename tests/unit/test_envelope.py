import uuid

import pytest
from pydantic import ValidationError

from events import Envelope, decode, encode, registry
from events.envelope import Message, Registry, UnknownMessageType, new_id
from events.s3 import BucketCreated, PutObject


def test_new_id_is_a_time_ordered_uuid7() -> None:
    ids = [new_id() for _ in range(50)]
    assert all(i.version == 7 for i in ids)
    assert [i.int >> 80 for i in ids] == sorted(i.int >> 80 for i in ids)
    assert len(set(ids)) == 50


def test_envelope_round_trips_through_json_bytes() -> None:
    cmd = Envelope.wrap(
        PutObject(
            bucket="b1", key="k/é", blob_id="x", size=3, md5="m", sha256="s", inline=b"\x00\xffa"
        ),
        actor="root",
    )
    back = decode(encode(cmd))
    assert back == cmd
    assert isinstance(back.data, PutObject) and back.data.inline == b"\x00\xffa"


def test_caused_event_carries_actor_correlation_and_causation() -> None:
    cmd = Envelope.wrap(
        PutObject(bucket="b1", key="k", blob_id="x", size=0, md5="m", sha256="s"),
        actor="alice",
        correlation_id=uuid.uuid4(),
    )
    evt = cmd.caused(BucketCreated(bucket="b1", owner="alice"))
    assert evt.causation_id == cmd.id
    assert evt.correlation_id == cmd.correlation_id
    assert evt.actor == "alice" and evt.type == "s3.BucketCreated"


def test_envelopes_are_frozen() -> None:
    env = Envelope.wrap(BucketCreated(bucket="b1", owner="o"), actor="o")
    with pytest.raises(ValidationError):
        env.actor = "mallory"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        env.data.bucket = "b2"  # type: ignore[attr-defined]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        BucketCreated(bucket="b", owner="o", surprise=1)  # type: ignore[call-arg]


def test_old_versions_are_upcast_on_read() -> None:
    reg = Registry()

    class Renamed(Message):
        TYPE = "t.Renamed"
        VERSION = 3
        full_name: str

    reg.register(Renamed)
    reg.upcaster("t.Renamed", 1)(lambda d: {"first": d["name"], "last": ""})
    reg.upcaster("t.Renamed", 2)(lambda d: {"full_name": f"{d['first']} {d['last']}".strip()})
    loaded = reg.load("t.Renamed", 1, {"name": "ada"})
    assert isinstance(loaded, Renamed) and loaded.full_name == "ada"


def test_unknown_type_or_missing_upcaster_fails_loudly() -> None:
    with pytest.raises(UnknownMessageType):
        registry.load("s3.Nope", 1, {})
    reg = Registry()

    class V2(Message):
        TYPE = "t.V2"
        VERSION = 2

    reg.register(V2)
    with pytest.raises(UnknownMessageType):
        reg.load("t.V2", 1, {})


def test_a_version_newer_than_this_build_is_refused() -> None:
    with pytest.raises(UnknownMessageType):
        registry.load("s3.BucketCreated", 2, {"bucket": "b", "owner": "o"})
