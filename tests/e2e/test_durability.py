"""Durability with several disk sidecars, against the real stack: corrupt replicas are never
served and get repaired by the scrubber; a failing sidecar loses nothing, makes writes fail
cleanly once the quorum cannot be met, and is caught up when it returns."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from botocore.exceptions import ClientError

from bus.log import Bus
from storage import DiskSidecar
from tests.e2e.stack import Stack

SMALL = os.urandom(100 * 1024)  # inline in the command; verified before it is served
BIG = os.urandom(9 * 1024 * 1024)  # chunked through the log; only size-checked when served


def sidecar_stack(tmp_path: Path, names: list[str], **env: str) -> Stack:
    data = tmp_path / "data"
    specs = [f"{n}=disk:{data / 'sidecars' / n}" for n in names]
    return Stack(data, env={"MYCLOUD_SIDECARS": json.dumps(specs), **env})


@pytest.fixture
def two_sidecars(tmp_path: Path) -> Iterator[Stack]:
    stack = sidecar_stack(tmp_path, ["d1", "d2"]).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def three_sidecars_quorum_two(tmp_path: Path) -> Iterator[Stack]:
    stack = sidecar_stack(tmp_path, ["d1", "d2", "d3"], MYCLOUD_WRITE_QUORUM="2").start()
    try:
        yield stack
    finally:
        stack.stop()


# ---------------------------------------------------------------- helpers


async def make_bucket(http: aiohttp.ClientSession) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    async with http.post("/buckets", json={"name": name}) as r:
        assert r.status == 201, await r.text()
    return name


async def put(http: aiohttp.ClientSession, bucket: str, key: str, data: bytes) -> None:
    async with http.put(f"/buckets/{bucket}/objects/{key}", data=io.BytesIO(data)) as r:
        assert r.status == 200, await r.text()


async def get(http: aiohttp.ClientSession, bucket: str, key: str, **headers: str) -> bytes:
    async with http.get(f"/buckets/{bucket}/objects/{key}", headers=headers) as r:
        assert r.status in (200, 206), await r.text()
        return await r.read()


def root(stack: Stack, sidecar: str) -> Path:
    return stack.data_dir / "sidecars" / sidecar


def replica(stack: Stack, sidecar: str, blob_id: str) -> Path:
    return DiskSidecar(sidecar, root(stack, sidecar), group_commit=False).path(blob_id)


def read_model(stack: Stack, bucket: str, key: str) -> tuple[str, list[str]]:
    """(blob id, replicas) of an object, straight from the SQLite read model."""
    with sqlite3.connect(stack.data_dir / "projections.db") as db:
        row = db.execute(
            "SELECT blob_id, replicas FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
    assert row is not None, f"{bucket}/{key} is not in the read model"
    return row[0], json.loads(row[1])


def holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:  # absent, or set aside by a repair in progress
        return False


def flip(path: Path, at: int) -> None:
    """Bit rot: change one byte in place; the size stays."""
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


def mycloud(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mycloud.cli", *args, "--data-dir", str(stack.data_dir)],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def under_replicated(stack: Stack) -> int:
    out = mycloud(stack, "status").stdout
    line = next(x for x in out.splitlines() if x.startswith("replicas"))
    return int(line.split(",")[1].split()[0])


async def eventually(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.5)


def fail(stack: Stack, sidecar: str) -> None:
    """Make a sidecar fail for real (chmod does not stop root): its root becomes a regular
    file, so every open and mkdir below it fails with ENOTDIR."""
    path = root(stack, sidecar)
    path.rename(path.with_name(f"{sidecar}.away"))
    path.write_bytes(b"not a directory")


@contextlib.asynccontextmanager
async def nats(stack: Stack) -> AsyncIterator[Bus]:
    bus = await stack.bus("t")
    try:
        yield bus
    finally:
        await bus.close()


def restore(stack: Stack, sidecar: str) -> None:
    path = root(stack, sidecar)
    path.unlink()
    path.with_name(f"{sidecar}.away").rename(path)


# ---------------------------------------------------------------- tests


async def test_a_corrupt_replica_is_never_served_and_scrub_repairs_it(two_sidecars: Stack) -> None:
    stack = two_sidecars
    async with aiohttp.ClientSession(stack.url, headers=stack.auth) as http:
        await _corrupt_and_scrub(stack, http)


async def _corrupt_and_scrub(stack: Stack, http: aiohttp.ClientSession) -> None:
    bucket = await make_bucket(http)
    await put(http, bucket, "small", SMALL)
    await put(http, bucket, "big", BIG)
    await put(http, bucket, "third", SMALL[:1000])
    small, replicas = read_model(stack, bucket, "small")
    big, _ = read_model(stack, bucket, "big")
    third, _ = read_model(stack, bucket, "third")
    assert replicas == ["d1", "d2"]  # readers try d1 first

    flip(replica(stack, "d1", small), 5000)
    for _ in range(3):
        assert await get(http, bucket, "small") == SMALL  # d1 is skipped, d2 serves
    assert await get(http, bucket, "small", Range="bytes=4990-5009") == SMALL[4990:5010]
    flip(replica(stack, "d1", big), len(BIG) // 2)  # too big to hash per read: scrub's
    replica(stack, "d2", third).unlink()  # and one replica goes missing

    checked = mycloud(stack, "scrub", "--no-repair")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "1 missing, 2 corrupt, 0 repaired" in checked.stdout, checked.stdout
    assert replica(stack, "d1", small).read_bytes() != SMALL  # --no-repair changes nothing

    repaired = mycloud(stack, "scrub", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "1 missing, 2 corrupt, 3 repaired, 0 unrepairable" in repaired.stdout
    for sidecar, blob, good in (
        ("d1", small, SMALL),
        ("d2", third, SMALL[:1000]),
        ("d1", big, BIG),
    ):
        assert replica(stack, sidecar, blob).read_bytes() == good
    assert not list(root(stack, "d1").rglob("*.corrupt"))  # set aside, then dropped
    assert await get(http, bucket, "big") == BIG

    again = mycloud(stack, "scrub")
    assert again.returncode == 0 and "0 missing, 0 corrupt" in again.stdout, again.stdout


async def test_a_failing_sidecar_loses_nothing_and_is_caught_up_when_it_returns(
    three_sidecars_quorum_two: Stack,
) -> None:
    stack = three_sidecars_quorum_two
    async with aiohttp.ClientSession(stack.url, headers=stack.auth) as http:
        await _fail_and_return(stack, http)


async def _fail_and_return(stack: Stack, http: aiohttp.ClientSession) -> None:
    bucket = await make_bucket(http)
    await put(http, bucket, "before", SMALL)
    # W=2 of 3: the third may be recorded a moment later, by the replicator. Replica sets are
    # listed in the order the copies landed, so they are compared as sets.
    await eventually(lambda: sorted(read_model(stack, bucket, "before")[1]) == ["d1", "d2", "d3"])

    fail(stack, "d3")
    await put(http, bucket, "small", SMALL)  # two healthy sidecars still make the quorum
    await put(http, bucket, "big", BIG)
    assert sorted(read_model(stack, bucket, "small")[1]) == ["d1", "d2"]
    assert await get(http, bucket, "big") == BIG
    status = mycloud(stack, "status")
    assert status.returncode == 1, status.stdout
    assert re.search(r"sidecar\s+d3\b.*FAILING", status.stdout), status.stdout
    assert under_replicated(stack) == 2
    big_blob = read_model(stack, bucket, "big")[0]
    async with nats(stack) as bus:  # the log keeps the chunks until every sidecar has them
        assert [c async for c in bus.blob_chunks(big_blob)] != []

    fail(stack, "d2")
    async with http.put(f"/buckets/{bucket}/objects/refused", data=io.BytesIO(SMALL)) as r:
        assert r.status == 503 and (await r.json())["code"] == "SlowDown"
    s3 = stack.boto3()
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="refused-s3", Body=BIG)
    assert refused.value.response["Error"]["Code"] == "SlowDown"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    for key in ("refused", "refused-s3"):
        async with http.get(f"/buckets/{bucket}/objects/{key}") as r:
            assert r.status == 404  # nothing is visible
    async with http.get(f"/buckets/{bucket}/objects") as r:
        assert sorted(o["key"] for o in (await r.json())["objects"]) == ["before", "big", "small"]

    restore(stack, "d2")
    await put(http, bucket, "later", SMALL)
    restore(stack, "d3")
    await eventually(lambda: under_replicated(stack) == 0)
    for key, data in (("small", SMALL), ("big", BIG), ("later", SMALL)):
        blob, replicas = read_model(stack, bucket, key)
        assert sorted(replicas) == ["d1", "d2", "d3"]
        assert holds(replica(stack, "d3", blob), data)
        assert await get(http, bucket, key) == data
    async with nats(stack) as bus:
        assert [c async for c in bus.blob_chunks(big_blob)] == []  # purged once all hold it
    status = mycloud(stack, "status")
    assert status.returncode == 0 and "0 under-replicated" in status.stdout, status.stdout


async def test_the_handler_scrubs_periodically(tmp_path: Path) -> None:
    stack = sidecar_stack(tmp_path, ["d1", "d2"], MYCLOUD_SCRUB_INTERVAL="1").start()
    try:
        async with aiohttp.ClientSession(stack.url, headers=stack.auth) as http:
            bucket = await make_bucket(http)
            await put(http, bucket, "k1", SMALL)
            await put(http, bucket, "k2", SMALL)
        corrupt = replica(stack, "d1", read_model(stack, bucket, "k1")[0])
        missing = replica(stack, "d2", read_model(stack, bucket, "k2")[0])
        flip(corrupt, 10)
        missing.unlink()
        await eventually(lambda: holds(corrupt, SMALL) and holds(missing, SMALL))
    finally:
        stack.stop()
