"""Projections against a real nats-server and real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bus import subjects
from bus.log import Bus, Stored
from events import Envelope, Message, new_id
from events.s3 import (
    BucketCreated,
    BucketDeleted,
    CommandRejected,
    ObjectDeleted,
    ObjectPut,
)
from projections import (
    ALL_PROJECTIONS,
    Database,
    Projector,
    ProjectorStopped,
    build_fresh,
    compare,
    open_database,
    rebuild,
)
from projections import queries as q

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await open_database(database_url)
    try:
        yield database
    finally:
        await database.close()


def fresh_url(database_url: str, tmp_path: Path, name: str) -> str:
    # SQLite: another file; PostgreSQL: the same database, build_fresh adds a new schema.
    return f"sqlite:///{tmp_path / name}" if database_url.startswith("sqlite") else database_url


async def emit(bus: Bus, data: Message, *, command_id: uuid.UUID | None = None) -> int:
    envelope = Envelope.wrap(data, actor="root", causation_id=command_id or new_id())
    if isinstance(data, BucketCreated | BucketDeleted):
        subject = subjects.bucket_state(data.bucket)
    elif isinstance(data, ObjectPut | ObjectDeleted):
        subject = subjects.object_(data.bucket, data.key)
    else:
        subject = subjects.S3_REJECTED
    return (await bus.append(envelope, subject)).seq


def put(bucket: str, key: str, blob: str, **extra: Any) -> ObjectPut:
    fields: dict[str, Any] = {
        "size": len(blob),
        "etag": f"etag-{blob}",
        "sha256": f"sha-{blob}",
        "content_type": "text/plain",
        "replicas": ["disk1", "disk2"],
    }
    fields.update(extra)
    return ObjectPut(bucket=bucket, key=key, blob_id=blob, **fields)


async def project(bus: Bus, db: Database, *, batch_size: int = 500) -> int:
    last = await bus.last_sequence()
    return await asyncio.wait_for(
        Projector(bus, db, ALL_PROJECTIONS(), batch_size=batch_size).catch_up(last), 30
    )


async def test_buckets_and_objects_are_projected(bus: Bus, db: Database) -> None:
    await emit(bus, BucketCreated(bucket="photos", region="eu-west-1", owner="alice"))
    await emit(bus, BucketCreated(bucket="docs", owner="bob"))
    seq = await emit(bus, put("photos", "2024/cat.jpg", "b1", metadata={"x": "1", "a": "é"}))
    assert await project(bus, db) == seq

    assert [b["name"] for b in await q.list_buckets(db)] == ["docs", "photos"]
    bucket = await q.get_bucket(db, "photos")
    assert bucket is not None
    assert (bucket["region"], bucket["owner"], bucket["created_seq"]) == ("eu-west-1", "alice", 1)
    assert bucket["created_at"].endswith("Z")
    obj = await q.get_object(db, "photos", "2024/cat.jpg")
    assert obj is not None
    assert obj["blob_id"] == "b1" and obj["size"] == 2 and obj["etag"] == "etag-b1"
    assert obj["metadata"] == {"x": "1", "a": "é"}
    assert obj["replicas"] == ["disk1", "disk2"]
    assert obj["seq"] == seq and obj["content_type"] == "text/plain"
    assert await q.get_object(db, "photos", "2024/dog.jpg") is None
    assert await q.count_objects(db, "photos") == 1
    assert await q.checkpoints(db) == {"buckets": seq, "objects": seq, "commands": seq, "iam": seq}

    await emit(bus, BucketDeleted(bucket="docs"))
    await project(bus, db)
    assert await q.get_bucket(db, "docs") is None


@pytest.mark.parametrize("batch_size", [1, 500])
async def test_last_write_wins_and_orphaned_blobs_become_garbage(
    bus: Bus, db: Database, batch_size: int
) -> None:
    await emit(bus, BucketCreated(bucket="b", owner="root"))
    first = await emit(bus, put("b", "k", "blob-1"))
    second = await emit(bus, put("b", "k", "blob-2", size=7))
    await emit(bus, put("b", "other", "blob-3"))
    deleted = await emit(bus, ObjectDeleted(bucket="b", key="other"))
    await emit(bus, ObjectDeleted(bucket="b", key="never-existed"))
    await project(bus, db, batch_size=batch_size)

    obj = await q.get_object(db, "b", "k")
    assert obj is not None and (obj["blob_id"], obj["size"], obj["seq"]) == ("blob-2", 7, second)
    assert await q.get_object(db, "b", "other") is None
    garbage = await q.garbage_after(db, 0, 100)
    assert [(g["blob_id"], g["key"], g["seq"]) for g in garbage] == [
        ("blob-1", "k", second),
        ("blob-3", "other", deleted),
    ]
    assert garbage[0]["replicas"] == ["disk1", "disk2"]
    assert [g["blob_id"] for g in await q.garbage_after(db, second, 100)] == ["blob-3"]
    assert first < second


async def test_command_outcomes_record_success_and_rejection(bus: Bus, db: Database) -> None:
    ok_id, rejected_id, twice_id = new_id(), new_id(), new_id()
    ok_seq = await emit(bus, BucketCreated(bucket="b", owner="root"), command_id=ok_id)
    rejected = CommandRejected(
        command="s3.CreateBucket", code="BucketAlreadyExists", message="taken", bucket="b"
    )
    rejected_seq = await emit(bus, rejected, command_id=rejected_id)
    twice_seq = await emit(bus, put("b", "k", "x"), command_id=twice_id)
    await emit(bus, ObjectDeleted(bucket="b", key="k"), command_id=twice_id)
    await project(bus, db)

    ok = await q.command_outcome(db, str(ok_id))
    assert ok is not None
    assert (ok["seq"], ok["type"], ok["ok"], ok["code"]) == (ok_seq, "s3.BucketCreated", True, None)
    assert ok["actor"] == "root"
    no = await q.command_outcome(db, str(rejected_id))
    assert no is not None
    assert (no["seq"], no["ok"], no["code"], no["message"]) == (
        rejected_seq,
        False,
        "BucketAlreadyExists",
        "taken",
    )
    first = await q.command_outcome(db, str(twice_id))
    assert first is not None and (first["seq"], first["type"]) == (twice_seq, "s3.ObjectPut")
    assert await q.command_outcome(db, str(new_id())) is None


async def test_redelivered_batches_and_parallel_runners_apply_once(
    bus: Bus, db: Database, database_url: str
) -> None:
    await emit(bus, BucketCreated(bucket="b", owner="root"))
    for i in range(20):
        await emit(bus, put("b", f"k{i % 5}", f"blob-{i}"))
    first_part = await project(bus, db)
    old: list[Stored] = []
    async for part in bus.read(1, until_seq=first_part):
        old += part
    await emit(bus, put("b", "k0", "blob-new"))
    last = await project(bus, db)
    expected = await _snapshot(db)
    assert expected["objects"]["k0"] == "blob-new"
    assert expected["garbage"] == [f"blob-{i}" for i in range(16)]

    # Old batches delivered again (as after a crash between commit and ack) would put back
    # old blobs and orphan blob-new if applied; the checkpoints make them no-ops.
    projector = Projector(bus, db, ALL_PROJECTIONS())
    assert await projector.commit_batch(old, 0) is False
    assert await projector.commit_batch(old[5:], 4) is False
    assert await _snapshot(db) == expected
    assert set((await q.checkpoints(db)).values()) == {last}
    # A batch straddling the checkpoint applies only what lies beyond it.
    await emit(bus, put("b", "k1", "blob-extra"))
    straddling = [s async for part in bus.read(1, until_seq=last + 1) for s in part]
    assert await projector.commit_batch(straddling, 0) is False
    expected["garbage"].append(expected["objects"]["k1"])
    expected["objects"]["k1"] = "blob-extra"
    assert await _snapshot(db) == expected
    last += 1

    # Two runners on their own connections serialise on the checkpoint rows and skip what the
    # other one applied.
    for i in range(30):
        await emit(bus, put("b", f"k{i % 7}", f"blob-late-{i}"))
    other = await open_database(database_url)
    try:
        await asyncio.gather(project(bus, db, batch_size=3), project(bus, other, batch_size=2))
    finally:
        await other.close()
    live, garbage = dict(expected["objects"]), list(expected["garbage"])
    for i in range(30):  # the reference: last write wins, every replaced blob is garbage
        if f"k{i % 7}" in live:
            garbage.append(live[f"k{i % 7}"])
        live[f"k{i % 7}"] = f"blob-late-{i}"
    assert await _snapshot(db) == {"objects": live, "garbage": garbage}
    assert live["k0"] == "blob-late-28" and len(garbage) == 17 + 30 - 2  # k5, k6 were new
    assert set((await q.checkpoints(db)).values()) == {last + 30}


async def test_a_checkpoint_reset_sends_the_runner_back(bus: Bus, db: Database) -> None:
    await emit(bus, BucketCreated(bucket="b", owner="root"))
    for i in range(6):
        await emit(bus, put("b", f"k{i}", f"blob-{i}"))
    last = await project(bus, db)
    async with db.transaction() as tx:  # what rebuild does, without its catch-up
        await tx.execute("DELETE FROM objects")
        await tx.execute(
            "UPDATE projection_checkpoints SET last_seq = 0 WHERE name = $1", "objects"
        )

    seq = await emit(bus, put("b", "late", "blob-late"))
    [event] = [s async for part in bus.read(seq, until_seq=seq) for s in part]
    projector = Projector(bus, db, ALL_PROJECTIONS(), idle_check=0.1)
    assert await projector.commit_batch([event], last) is True
    assert await q.checkpoints(db) == {"buckets": seq, "commands": seq, "iam": seq, "objects": 0}
    assert await q.count_objects(db, "b") == 0  # nothing applied out of order

    # A live runner notices a reset even while the log is quiet.
    task = asyncio.create_task(projector.run())
    try:
        await _wait_checkpoint(db, seq)
        assert await q.count_objects(db, "b") == 7
        async with db.transaction() as tx:
            await tx.execute("DELETE FROM objects")
            await tx.execute("UPDATE projection_checkpoints SET last_seq = 0")
        await _wait_checkpoint(db, seq)
        assert await q.count_objects(db, "b") == 7
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _snapshot(db: Database) -> dict[str, Any]:
    objects = await q.list_objects(db, "b")
    garbage = await q.garbage_after(db, 0, 1000)
    return {
        "objects": {o["key"]: o["blob_id"] for o in objects},
        "garbage": [g["blob_id"] for g in garbage],
    }


KEYS = [
    "A",
    "a",
    "a/",
    "a/b",
    "a/b c",
    "a/b/c",
    "a/b/\u00e9",
    "a/z",
    "a/\u00e9t\u00e9",
    "a/\uff5a",
    "a/\U0001f600",
    "a/\U0001f600/x",
    "a/\x7f",
    "a0",
    "a/%2F",
    "b//c",
    "\u00e9",
    "\U0010ffff",
    "\U0010ffff/x",
    "k" * 1024,
]


async def test_listing_is_in_byte_order_with_prefix_and_start_after(bus: Bus, db: Database) -> None:
    await emit(bus, BucketCreated(bucket="b", owner="root"))
    for i, key in enumerate(KEYS):
        await emit(bus, put("b", key, f"blob-{i}"))
    await emit(bus, put("c", "a/b", "in-another-bucket"))
    await project(bus, db)
    byte_order = sorted(KEYS, key=lambda k: k.encode())

    async def keys(**kw: Any) -> list[str]:
        return [o["key"] for o in await q.list_objects(db, "b", **kw)]

    assert await keys() == byte_order
    assert await keys(prefix="a/") == [k for k in byte_order if k.startswith("a/")]
    assert await keys(prefix="a/b") == ["a/b", "a/b c", "a/b/c", "a/b/\u00e9"]
    assert await keys(prefix="a/b", start_after="a/b c") == ["a/b/c", "a/b/\u00e9"]
    assert await keys(prefix="a/\U0001f600") == ["a/\U0001f600", "a/\U0001f600/x"]
    assert await keys(prefix="\U0010ffff") == ["\U0010ffff", "\U0010ffff/x"]
    assert await keys(prefix="A") == ["A"]
    assert await keys(prefix="zz") == []
    assert await keys(start_after="a/z") == [k for k in byte_order if k.encode() > b"a/z"]
    page = await keys(prefix="a/", limit=3)
    assert page == [k for k in byte_order if k.startswith("a/")][:4]  # limit + 1
    assert await q.count_objects(db, "b") == len(KEYS)
    assert [o["key"] for o in await q.list_objects(db, "c")] == ["a/b"]


async def test_rebuild_and_fresh_build_equal_the_live_projections(
    bus: Bus, db: Database, database_url: str, tmp_path: Path
) -> None:
    live = Projector(bus, db, ALL_PROJECTIONS(), batch_size=4)
    await live.start()
    task = asyncio.create_task(live.run())
    try:
        await _history(bus, 0)
        await _wait_checkpoint(db, await bus.last_sequence())
        # Rebuilt while the live runner keeps going; events arrive meanwhile.
        rebuilding = asyncio.create_task(rebuild(bus, db, ["objects", "commands"]))
        await _history(bus, 1)
        await rebuilding
        await _history(bus, 2)
        await _wait_checkpoint(db, await bus.last_sequence())
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    fresh = await build_fresh(bus, fresh_url(database_url, tmp_path, "fresh.db"))
    try:
        assert await q.checkpoints(fresh) == await q.checkpoints(db)
        assert await compare(db, fresh, None) == []
        assert await q.count_objects(fresh, "b1") > 0
        # compare must be able to fail: change one row of the fresh copy
        async with fresh.transaction() as tx:
            await tx.execute("UPDATE objects SET size = size + 1 WHERE key = $1", "k/1")
            await tx.execute("DELETE FROM command_outcomes WHERE seq = $1", 1)
        differences = await compare(db, fresh, None)
        assert len(differences) == 2, differences
        assert any("objects.objects" in d and "size" in d for d in differences)
        assert any("only in A" in d for d in differences)
    finally:
        await fresh.close()


async def _history(bus: Bus, round_: int) -> None:
    await emit(bus, BucketCreated(bucket=f"b{round_}", owner="root"))
    for i in range(12):
        await emit(bus, put(f"b{i % 2}", f"k/{i % 4}", f"blob-{round_}-{i}"))
    await emit(bus, ObjectDeleted(bucket="b0", key="k/0"))
    await emit(bus, CommandRejected(command="s3.DeleteBucket", code="BucketNotEmpty", message="no"))


async def _wait_checkpoint(db: Database, seq: int, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while min((await q.checkpoints(db)).values(), default=0) < seq:
            await asyncio.sleep(0.02)


async def test_each_batch_announces_checkpoint_and_outcomes(bus: Bus, db: Database) -> None:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def on_projected(payload: bytes) -> None:
        await received.put(orjson.loads(payload))

    sub = await bus.listen(subjects.PROJECTED, on_projected)
    await bus.nc.flush()
    command = new_id()
    await emit(bus, BucketCreated(bucket="b", owner="root"), command_id=command)
    rejected = CommandRejected(command="s3.CreateBucket", code="InvalidBucketName", message="bad")
    seq = await emit(bus, rejected)
    await project(bus, db)

    notice = await asyncio.wait_for(received.get(), 5)
    await sub.unsubscribe()
    assert notice["checkpoint"] == seq
    first, last = notice["outcomes"]
    assert (first["command_id"], first["seq"], first["ok"]) == (str(command), 1, True)
    assert (last["seq"], last["type"], last["ok"], last["code"], last["message"]) == (
        seq,
        "s3.CommandRejected",
        False,
        "InvalidBucketName",
        "bad",
    )


class Alien(Message):
    TYPE = "s3.FromTheFuture"  # never registered: this build cannot read it
    note: str


async def test_unreadable_event_stops_the_projector(bus: Bus, db: Database) -> None:
    good = await emit(bus, BucketCreated(bucket="b", owner="root"))
    await project(bus, db)
    await bus.append(Envelope.wrap(Alien(note="hi"), actor="root"), "evt.s3.future")
    await emit(bus, BucketCreated(bucket="after", owner="root"))

    with pytest.raises(ProjectorStopped, match="after sequence 1"):
        await project(bus, db)
    assert await q.checkpoints(db) == {
        "buckets": good,
        "objects": good,
        "commands": good,
        "iam": good,
    }
    assert await q.get_bucket(db, "after") is None
