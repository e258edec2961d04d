"""Replica sets in the objects read model (``s3.ReplicaAdded``), the replicator's and scrubber's
queries, blob chunks read back from the log: real nats-server, real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bus import subjects
from bus.log import Bus
from events import Envelope, Message, new_id
from events.s3 import (
    BucketCreated,
    MultipartUploadCompleted,
    MultipartUploadCreated,
    ObjectPut,
    PartRef,
    PartUploaded,
    ReplicaAdded,
)
from projections import ALL_PROJECTIONS, Database, Projector, build_fresh, compare, open_database
from projections import queries as q

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
BOTH = ["d1", "d2"]


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


async def emit(bus: Bus, data: Message) -> None:
    if isinstance(data, BucketCreated):
        subject = subjects.bucket_state(data.bucket)
    elif isinstance(data, MultipartUploadCreated | MultipartUploadCompleted):
        subject = subjects.upload_state(data.bucket, data.upload_id)
    elif isinstance(data, PartUploaded):
        subject = subjects.upload_part(data.bucket, data.upload_id, data.part_number)
    else:
        assert isinstance(data, ObjectPut | ReplicaAdded)
        subject = subjects.object_(data.bucket, data.key)
    await bus.append(Envelope.wrap(data, actor="root", causation_id=new_id()), subject)


async def project(bus: Bus, db: Database) -> None:
    last = await bus.last_sequence()
    await asyncio.wait_for(Projector(bus, db, ALL_PROJECTIONS()).catch_up(last), 30)


def put(key: str, blob: str, replicas: list[str], **extra: Any) -> ObjectPut:
    return ObjectPut(
        bucket="b", key=key, blob_id=blob, size=3, etag="e", sha256=f"sha-{blob}",
        content_type="text/plain", replicas=replicas, **extra,
    )  # fmt: skip


def part(upload: str, n: int, blob: str, replicas: list[str]) -> PartUploaded:
    return PartUploaded(
        bucket="b", key=f"mp-{upload}", upload_id=upload, part_number=n, blob_id=blob, size=3,
        etag="e", sha256=f"sha-{blob}", replicas=replicas,
    )  # fmt: skip


def added(key: str, blob: str, sidecar: str, upload_id: str | None = None) -> ReplicaAdded:
    return ReplicaAdded(
        bucket="b", key=key, version_id="" if upload_id else "null", upload_id=upload_id,
        blob_id=blob, sidecar=sidecar,
    )  # fmt: skip


async def replicas_of(db: Database, key: str) -> tuple[list[str], list[list[str]]]:
    row = await q.get_object(db, "b", key)
    assert row is not None
    return row["replicas"], [p["replicas"] for p in row["parts"]]


async def test_a_caught_up_replica_reaches_every_row_that_lists_the_blob(
    bus: Bus, db: Database, database_url: str, tmp_path: Path
) -> None:
    await emit(bus, BucketCreated(bucket="b", owner="root"))
    await emit(bus, put("k1", "A", ["d1"]))
    await emit(bus, put("k2", "A", ["d1"]))  # a copy shares the blob
    await emit(bus, MultipartUploadCreated(bucket="b", key="mp-u1", upload_id="u1", initiator="r"))
    await emit(bus, part("u1", 1, "P1", ["d1"]))
    await emit(bus, part("u1", 2, "P2", BOTH))
    refs = [PartRef(blob_id="P1", size=3, etag="e", sha256="sha-P1", replicas=["d1"]),
            PartRef(blob_id="P2", size=3, etag="e", sha256="sha-P2", replicas=BOTH)]  # fmt: skip
    await emit(bus, put("mp-u1", "", ["d1"], parts=refs))
    await emit(bus, MultipartUploadCompleted(bucket="b", key="mp-u1", upload_id="u1",
                                             version_id="null", etag="e-2"))  # fmt: skip
    await emit(bus, MultipartUploadCreated(bucket="b", key="mp-u2", upload_id="u2", initiator="r"))
    await emit(bus, part("u2", 1, "Q", ["d1"]))
    await project(bus, db)

    under = await q.under_replicated(db, BOTH)
    assert [(r["blob_id"], r["missing"], r["sha256"]) for r in under] == [
        ("A", ["d2"], "sha-A"),
        ("P1", ["d2"], "sha-P1"),
        ("Q", ["d2"], "sha-Q"),
    ]
    assert await q.under_replicated(db, BOTH, after="P1") == under[2:]
    assert await q.blob_referrer(db, "A") == {
        "bucket": "b", "key": "k1", "version_id": "null", "upload_id": None,
    }  # fmt: skip
    assert await q.blob_referrer(db, "Q") == {
        "bucket": "b", "key": "mp-u2", "version_id": "", "upload_id": "u2",
    }  # fmt: skip
    assert await q.blob_referrer(db, "nothing") is None

    await emit(bus, added("k1", "A", "d2"))
    await emit(bus, added("mp-u1", "P1", "d2"))
    await emit(bus, added("mp-u2", "Q", "d2", upload_id="u2"))
    await emit(bus, added("mp-u2", "Q", "d2", upload_id="u2"))  # twice: no harm
    await emit(bus, put("k3", "A", ["d1"]))  # a copy decided on state older than the catch-up
    await project(bus, db)

    for key in ("k1", "k2", "k3"):
        assert await replicas_of(db, key) == (BOTH, [])
    assert await replicas_of(db, "mp-u1") == (BOTH, [BOTH, BOTH])
    [upload_part] = await q.list_parts(db, "b", "u2")
    assert upload_part["replicas"] == BOTH
    assert await q.under_replicated(db, BOTH) == []
    assert await q.replica_sets(db) == [(BOTH, 4)]  # A, P1, P2, Q

    fresh = await build_fresh(bus, _fresh(database_url, tmp_path))
    try:
        assert await compare(db, fresh, ["objects"]) == []
    finally:
        await fresh.close()


async def test_a_replica_of_a_blob_nothing_references_changes_nothing(
    bus: Bus, db: Database
) -> None:
    await emit(bus, BucketCreated(bucket="b", owner="root"))
    await emit(bus, put("k", "A", ["d1"]))
    await emit(bus, put("k", "B", ["d1"]))  # overwritten: A is garbage now
    await emit(bus, added("k", "A", "d2"))
    await project(bus, db)
    assert [r["blob_id"] for r in await q.live_blobs(db)] == ["B"]
    assert await q.get_blob(db, "A") is None
    assert await replicas_of(db, "k") == (["d1"], [])


async def test_blob_chunks_come_back_in_order_until_purged(bus: Bus) -> None:
    for blob, data in (("x", b"one"), ("other", b"no"), ("x", b"two"), ("x", b"three")):
        await bus.put_chunk(blob, data)
    assert [c async for c in bus.blob_chunks("x")] == [b"one", b"two", b"three"]
    await bus.purge_blob("x")
    assert [c async for c in bus.blob_chunks("x")] == []
    assert [c async for c in bus.blob_chunks("other")] == [b"no"]


def _fresh(database_url: str, tmp_path: Path) -> str:
    # SQLite: another file; PostgreSQL: the same database, build_fresh adds a new schema.
    return database_url if database_url.startswith("postgres") else f"sqlite:///{tmp_path}/f.db"
