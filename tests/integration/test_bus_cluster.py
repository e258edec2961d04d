"""The bus against a real 3-node JetStream cluster on loopback: connecting by a list of URLs, and
every kind of operation carrying on across the loss of a stream leader."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bus import subjects
from bus.log import Bus, Stored, StreamSettings
from bus.server import NatsCluster
from events.envelope import Envelope
from events.s3 import CreateBucket

pytestmark = pytest.mark.slow


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    cluster = NatsCluster(tmp_path / "nats", size=3).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def cluster_bus(nats_cluster: NatsCluster) -> AsyncIterator[Bus]:
    bus = await Bus.connect(nats_cluster.url, name="test-cluster", retry_for=60.0)
    await bus.ensure_streams(StreamSettings(replicas=3))
    try:
        yield bus
    finally:
        await bus.close()


def bucket_created(i: int) -> Envelope:
    return Envelope.wrap(CreateBucket(bucket=f"bucket-{i}"), actor="test")


async def leader_index(bus: Bus, stream: str = subjects.EVENTS_STREAM) -> int:
    info = await bus.js.stream_info(stream)
    assert info.cluster is not None and info.cluster.leader
    return int(info.cluster.leader.rsplit("-", 1)[1]) - 1


async def test_every_operation_carries_on_when_the_stream_leader_is_killed(
    nats_cluster: NatsCluster, cluster_bus: Bus
) -> None:
    bus = cluster_bus
    for name in (subjects.COMMANDS_STREAM, subjects.EVENTS_STREAM, subjects.BLOBS_STREAM):
        assert (await bus.js.stream_info(name)).config.num_replicas == 3
    read: list[int] = []

    async def follow() -> None:
        async for batch in bus.read(1):
            read.extend(s.seq for s in batch)

    reader = asyncio.create_task(follow())
    appended: list[int] = []
    done_at: list[float] = []  # when each append-and-read cycle completed
    stop = asyncio.Event()

    async def write() -> None:
        i = 0
        while not stop.is_set():
            subject = subjects.bucket_state(f"bucket-{i % 5}")
            receipt = await bus.append(bucket_created(i), subject)
            appended.append(receipt.seq)
            # what a handler reads to decide: the aggregate's history and its newest event,
            # both from the leader, so they already hold the append just acknowledged
            history: list[Stored] = await bus.read_subject(subject)
            last = await bus.last(subject)
            assert history[-1].seq == receipt.seq and last is not None
            assert last.seq == receipt.seq
            done_at.append(time.monotonic())
            i += 1

    writer = asyncio.create_task(write())
    try:
        await asyncio.sleep(1.0)
        victim = nats_cluster.nodes[await leader_index(bus)]
        victim.kill()
        killed_at = time.monotonic()
        before = len(appended)
        while len(appended) < before + 20:  # writes go on once a new leader is elected
            assert time.monotonic() - killed_at < 40, "no new leader within 40 s"
            await asyncio.sleep(0.1)
        failover = max(b - a for a, b in itertools.pairwise(done_at) if b > killed_at)
        victim.start()  # same store: it rejoins as itself and catches up
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await writer
    last_seq = await bus.last_sequence()
    deadline = time.monotonic() + 30
    while len(read) < last_seq:  # the reader's consumer died with the leader: it must come back
        assert time.monotonic() < deadline, f"reader stuck at {read[-1:]} of {last_seq}"
        await asyncio.sleep(0.1)
    reader.cancel()
    assert read == list(range(1, last_seq + 1)), "the reader lost, repeated or reordered events"
    assert appended == sorted(appended) and appended[-1] == last_seq
    print(f"\nstream leader fail-over: appends and reads stalled {failover:.1f} s")


async def test_connects_by_a_url_list_and_reconnects_when_its_server_dies(
    nats_cluster: NatsCluster, cluster_bus: Bus
) -> None:
    bus = cluster_bus
    connected = bus.nc.connected_url
    assert connected is not None
    node = next(n for n in nats_cluster.nodes if n.port == connected.port)
    node.kill()
    command = bucket_created(1)
    receipt = await bus.send_command(command, "s3")  # after a reconnect to another node
    assert bus.nc.connected_url is not None and bus.nc.connected_url.port != node.port
    again = await bus.send_command(command, "s3")  # a client's retry: stored once
    assert again.duplicate and again.seq == receipt.seq
    node.start()
