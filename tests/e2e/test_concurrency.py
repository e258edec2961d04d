"""Two s3 handler processes share the command queue and stay correct: optimistic concurrency on
the log decides every race, not timing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.stack import Stack


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture
def second_handler(stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "MYCLOUD_DATA_DIR": str(stack.data_dir),
        "MYCLOUD_NATS_URL": (stack.data_dir / "run" / "nats.url").read_text().strip(),
    }
    log = open(stack.data_dir / "logs" / "handler-s3-second.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mycloud.cli", "handler", "s3"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        yield proc
    finally:
        proc.terminate()
        for _ in range(300):
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            proc.wait()


async def test_two_handlers_race_creates_and_put_versus_delete_bucket(
    stack: Stack, http: aiohttp.ClientSession, second_handler: subprocess.Popen[bytes]
) -> None:
    await asyncio.sleep(1.5)  # let the second handler connect and start pulling
    before = cpu_ticks(second_handler.pid)

    async def create(name: str) -> int:
        async with http.post("/buckets", json={"name": name}) as r:
            return r.status

    for round_ in range(5):
        statuses = await asyncio.gather(*(create(f"race-{round_}") for _ in range(20)))
        assert statuses.count(201) == 1, statuses
        assert statuses.count(409) == 19, statuses

    async def put(bucket: str, key: str) -> int:
        async with http.put(f"/buckets/{bucket}/objects/{key}", data=b"x" * 100) as r:
            return r.status

    async def delete_bucket(bucket: str) -> int:
        async with http.delete(f"/buckets/{bucket}") as r:
            return r.status

    for round_ in range(10):
        bucket = f"pd-{round_}"
        assert await create(bucket) == 201
        put_status, del_status = await asyncio.gather(put(bucket, "k"), delete_bucket(bucket))
        # exactly one of them wins, and what the read models show agrees with the winner
        assert (put_status, del_status) in ((200, 409), (404, 204)), (put_status, del_status)
        async with http.get(f"/buckets/{bucket}/objects/k") as r:
            if put_status == 200:
                assert r.status == 200 and await r.read() == b"x" * 100
            else:
                assert r.status == 404 and (await r.json())["code"] == "NoSuchBucket"

    assert second_handler.poll() is None
    assert cpu_ticks(second_handler.pid) > before, "the second handler took no share of the work"
