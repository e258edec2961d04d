"""The bus against a real nats-server: appends with optimistic concurrency, dedup, reads, blobs."""

from __future__ import annotations

import asyncio

import pytest

from bus import subjects
from bus.errors import ConcurrencyConflict, NotFoundInLog
from bus.log import Bus
from events import Envelope
from events.s3 import BucketCreated, CreateBucket, ObjectDeleted


def created(bucket: str = "b1") -> Envelope:
    return Envelope.wrap(BucketCreated(bucket=bucket, owner="root"), actor="root")


async def test_append_with_expected_sequence_refuses_stale_decisions(bus: Bus) -> None:
    subject = subjects.bucket_state("b1")
    first = await bus.append(created(), subject, expect_seq=0)
    with pytest.raises(ConcurrencyConflict):
        await bus.append(created(), subject, expect_seq=0)
    second = await bus.append(created(), subject, expect_seq=first.seq)
    assert second.seq > first.seq


async def test_expectation_on_a_wildcard_covers_every_subject_under_a_bucket(bus: Bus) -> None:
    state = await bus.append(created("b2"), subjects.bucket_state("b2"), expect_seq=0)
    obj = Envelope.wrap(ObjectDeleted(bucket="b2", key="k"), actor="root")
    await bus.append(obj, subjects.object_("b2", "k"))
    with pytest.raises(ConcurrencyConflict):  # an object event moved the bucket's prefix on
        await bus.append(
            created("b2"),
            subjects.bucket_state("b2"),
            expect_seq=state.seq,
            expect_subject=subjects.bucket_all("b2"),
        )
    last = await bus.last(subjects.bucket_all("b2"))
    assert last is not None and last.subject == subjects.object_("b2", "k")


async def test_same_message_id_is_stored_once(bus: Bus) -> None:
    cmd = Envelope.wrap(CreateBucket(bucket="b3"), actor="root")
    a = await bus.send_command(cmd, "s3")
    b = await bus.send_command(cmd, "s3")
    assert not a.duplicate and b.duplicate and a.seq == b.seq
    assert await bus.last_sequence(subjects.COMMANDS_STREAM) == a.seq


async def test_last_and_get_return_decoded_envelopes(bus: Bus) -> None:
    env = created("b4")
    r = await bus.append(env, subjects.bucket_state("b4"))
    last = await bus.last(subjects.bucket_state("b4"))
    assert last is not None and last.envelope == env and last.seq == r.seq
    assert (await bus.get(r.seq)).envelope == env
    assert await bus.last(subjects.bucket_state("nothing-here")) is None
    with pytest.raises(NotFoundInLog):
        await bus.get(r.seq + 100)


async def test_a_slow_reader_sees_every_event_in_order_without_holes(bus: Bus) -> None:
    n = 3000
    await asyncio.gather(
        *(
            bus.append(created(f"bk{i % 50}"), subjects.bucket_state(f"bk{i % 50}"))
            for i in range(n)
        )
    )
    last = await bus.last_sequence()
    seen: list[int] = []
    async for batch in bus.read(1, until_seq=last, max_batch=7):
        seen += [s.seq for s in batch]
        await asyncio.sleep(0.002)  # slower than the server pushes
    assert seen == list(range(1, last + 1))


async def test_blob_chunks_round_trip_and_purge(bus: Bus) -> None:
    data = [bytes([i]) * (4 * 1024 * 1024) for i in range(3)]
    seqs = [await bus.put_chunk("blob1", d) for d in data]
    assert [await bus.get_chunk(s) for s in seqs] == data
    await bus.purge_blob("blob1")
    with pytest.raises(NotFoundInLog):
        await bus.get_chunk(seqs[0])


async def test_command_queue_redelivers_what_was_not_acked(bus: Bus) -> None:
    cmd = Envelope.wrap(CreateBucket(bucket="b5"), actor="root")
    await bus.send_command(cmd, "s3")
    queue = await bus.commands("s3", durable="test-handler", ack_wait=1.0)
    first = await queue.fetch(10, timeout=2)
    assert [d.envelope for d in first] == [cmd] and first[0].attempt == 1
    await first[0].nak(delay=0.1)
    again = await queue.fetch(10, timeout=3)
    assert [d.envelope.id for d in again] == [cmd.id] and again[0].attempt == 2
    await again[0].ack()
    assert await queue.fetch(10, timeout=1.5) == []
