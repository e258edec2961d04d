"""A 1 GiB object streams through every process without any of them holding it in memory."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest

from tests.e2e.stack import Stack
from tests.e2e.test_api import chunks

GIB = 1024**3
RSS_LIMIT_MIB = 200


@pytest.mark.slow
async def test_1_gib_round_trip_keeps_every_process_under_200_mib(fresh_stack: Stack) -> None:
    stack = fresh_stack
    expected = hashlib.sha256()
    async for c in chunks(GIB, b"gib"):
        expected.update(c)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(stack.url, headers=stack.auth, timeout=timeout) as http:
        async with http.post("/buckets", json={"name": "huge"}) as r:
            assert r.status == 201
        async with http.put(
            "/buckets/huge/objects/one.gib",
            data=chunks(GIB, b"gib"),
            headers={"Content-Length": str(GIB)},
        ) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["sha256"] == expected.hexdigest()
        got = hashlib.sha256()
        size = 0
        async with http.get("/buckets/huge/objects/one.gib") as r:
            assert r.status == 200
            async for c in r.content.iter_chunked(1 << 20):
                got.update(c)
                size += len(c)
        assert size == GIB and got.hexdigest() == expected.hexdigest()
    peaks = {
        role: stack.peak_rss_mib(role) for role in ("api", "handler-s3", "projector", "nats-server")
    }
    print(f"peak RSS MiB: {peaks}")
    assert all(p < RSS_LIMIT_MIB for p in peaks.values()), peaks
