"""`mycloud up --nats-cluster 3`: the embedded NATS as a 3-node JetStream cluster on loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.cluster import STREAMS, stream_leader, wait_replicated
from tests.e2e.stack import Stack

pytestmark = pytest.mark.slow


async def put(http: aiohttp.ClientSession, key: str, data: bytes, deadline: float) -> None:
    """One upload, retried (same Idempotency-Key) while a fail-over makes it answer 503."""
    idem = f"up-cluster-{key}"
    while True:
        async with http.put(
            f"/buckets/photos/objects/{key}", data=data, headers={"Idempotency-Key": idem}
        ) as r:
            if r.status == 200:
                return
            assert r.status == 503 and time.monotonic() < deadline, await r.text()
        await asyncio.sleep(0.5)


async def test_up_runs_a_three_node_cluster_that_survives_a_node_and_restarts(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path / "data", args=("--nats-cluster", "3")).start(timeout=120)
    try:
        url = (stack.data_dir / "run" / "nats.url").read_text().strip()
        assert len(url.split(",")) == 3
        bus = await stack.bus("test-up-cluster")
        try:
            for name in STREAMS:
                info = await bus.js.stream_info(name)
                assert info.config.num_replicas == 3, name
            async with aiohttp.ClientSession(stack.url, headers=stack.auth) as http:
                async with http.post("/buckets", json={"name": "photos"}) as r:
                    assert r.status == 201
                await put(http, "before", b"before", time.monotonic() + 30)

                # kill -9 the node leading the events: the supervisor restarts it on its store
                leader = (await stream_leader(bus)).rsplit("-", 1)[1]
                pid = stack.kill9(f"nats-server-{leader}")
                await put(http, "during", b"during", time.monotonic() + 60)
                for _ in range(100):
                    if stack.pid(f"nats-server-{leader}") != pid:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"nats-server-{leader} was not restarted")
                await wait_replicated(bus, timeout=60)
        finally:
            await bus.close()
    finally:
        assert stack.stop() == 0

    # Started again on the same data dir: the same cluster (ports and stores), everything kept.
    again = Stack(stack.data_dir, args=("--nats-cluster", "3")).start(timeout=120)
    try:
        assert (again.data_dir / "run" / "nats.url").read_text().strip() == url
        async with aiohttp.ClientSession(again.url, headers=again.auth) as http:
            for key in ("before", "during"):
                async with http.get(f"/buckets/photos/objects/{key}") as r:
                    assert r.status == 200 and await r.read() == key.encode()
    finally:
        again.stop()
