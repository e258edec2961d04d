"""One contract for every storage sidecar kind, against real servers: a disk directory, a "share"
directory, a `mycloud storage-node` process and a SeaweedFS S3 endpoint (`weed mini`).

Then what only some kinds have: node credentials, the S3 object layout, a hung or absent share.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bus.server import free_port
from storage import (
    BlobNotFound,
    DigestMismatch,
    Sidecar,
    Stalled,
    StorageError,
    build_sidecar,
    build_sidecars,
)
from storage.nas import NasSidecar
from tests.integration.seaweed import Seaweed, WeedUnavailable

MIB = 1024 * 1024
KINDS = ["disk", "nas", "node", "s3"]
NODE_KEY, NODE_SECRET = "node-test-key", "s3cret/with@odd:chars"
QUOTED_SECRET = "s3cret%2Fwith%40odd%3Achars"

pytestmark = pytest.mark.timeout(60)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def chunked(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read(sidecar: Sidecar, blob_id: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in sidecar.get(blob_id, offset, length)])


def blob_id() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- servers


@dataclass
class Node:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    port = free_port()
    env = dict(os.environ, MYCLOUD_NODE_KEY=NODE_KEY, MYCLOUD_NODE_SECRET=NODE_SECRET)
    argv = [
        sys.executable,
        "-m",
        "mycloud.cli",
        "storage-node",
        "--data-dir",
        str(tmp_path_factory.mktemp("node")),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
    server = Node(port, process)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "storage-node exited at start-up"
            try:
                urllib.request.urlopen(f"{server.url}/healthz", timeout=1)
            except urllib.error.HTTPError:
                break  # 401: up, and asking for credentials
            except OSError:
                assert time.monotonic() < deadline, "storage-node did not start"
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    try:
        server = Seaweed.start(tmp_path_factory.mktemp("seaweed"))
    except WeedUnavailable as exc:
        pytest.skip(f"s3 sidecar tests need SeaweedFS: {exc}")
    try:
        yield server
    finally:
        server.stop()


def spec_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "disk":
        return f"t=disk:{tmp_path / 'disk'}"
    if kind == "nas":
        (tmp_path / "share").mkdir()
        return f"t=nas:{tmp_path / 'share'}?timeout=5"
    if kind == "node":
        server: Node = request.getfixturevalue("node")
        return f"t=node:http://{NODE_KEY}:{QUOTED_SECRET}@127.0.0.1:{server.port}"
    weed: Seaweed = request.getfixturevalue("seaweed")
    hostport = weed.endpoint.removeprefix("http://")
    # A bucket per test (created by the sidecar on first use) and a nested prefix.
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    return f"t=s3:http://{weed.access_key}:{weed.secret_key}@{hostport}/{bucket}/blobs/v1"


@pytest.fixture(params=KINDS)
async def sidecar(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sidecar]:
    made = build_sidecars([spec_for(request.param, request, tmp_path)])[0]
    try:
        yield made
    finally:
        await made.close()


# ---------------------------------------------------------------- the contract


async def test_streamed_put_then_whole_and_ranged_gets(sidecar: Sidecar) -> None:
    data = os.urandom(9 * MIB + 123)  # more than one S3 part: the multipart path too
    bid = blob_id()
    stored = await sidecar.put(bid, chunked(data, 1 * MIB), sha256=sha(data))
    assert (stored.size, stored.sha256) == (len(data), sha(data))
    assert await read(sidecar, bid) == data
    n = len(data)
    for offset, length in [
        (0, 1),
        (1000, 5000),
        (MIB - 7, 2 * MIB),
        (n - 10, None),
        (n - 10, 100),
        (0, n),
        (5, None),
    ]:
        end = n if length is None else offset + length
        assert await read(sidecar, bid, offset, length) == data[offset:end], (offset, length)
    assert await read(sidecar, bid, n, None) == b""  # a range past the end is empty, as disk
    assert await read(sidecar, bid, n + 5, 10) == b""
    assert await read(sidecar, bid, 3, 0) == b""


async def test_small_blobs_exist_until_deleted(sidecar: Sidecar) -> None:
    bid = blob_id()
    assert not await sidecar.exists(bid)
    stored = await sidecar.put_bytes(bid, b"hello", sha256=sha(b"hello"))
    assert (stored.size, stored.sha256) == (5, sha(b"hello"))
    assert await sidecar.exists(bid)
    assert await read(sidecar, bid, 1, 3) == b"ell"
    await sidecar.delete(bid)
    assert not await sidecar.exists(bid)
    await sidecar.delete(bid)  # deleting an absent blob is fine
    with pytest.raises(BlobNotFound):
        await read(sidecar, bid)
    empty = blob_id()
    assert (await sidecar.put_bytes(empty, b"")).size == 0
    assert await sidecar.exists(empty) and await read(sidecar, empty) == b""


async def test_verify_checks_the_digest(sidecar: Sidecar) -> None:
    bid, data = blob_id(), os.urandom(300_000)
    await sidecar.put(bid, chunked(data))  # no digest given: the sidecar computes it
    assert await sidecar.verify(bid, sha(data))
    assert not await sidecar.verify(bid, sha(b"something else"))
    assert not await sidecar.verify(blob_id(), sha(data))  # absent


async def test_health_is_ok(sidecar: Sidecar) -> None:
    health = await sidecar.health()
    assert health.ok, health.detail


async def test_puts_are_idempotent_by_blob_id(sidecar: Sidecar) -> None:
    bid, data = blob_id(), os.urandom(2 * MIB)
    first = await sidecar.put(bid, chunked(data), sha256=sha(data))
    again = await sidecar.put(bid, chunked(data), sha256=sha(data))
    bytes_again = await sidecar.put_bytes(bid, data, sha256=sha(data))
    assert first == again == bytes_again
    assert await read(sidecar, bid) == data and await sidecar.verify(bid, sha(data))


@pytest.mark.parametrize("size", [1000, 9 * MIB])
async def test_a_digest_mismatch_stores_nothing(sidecar: Sidecar, size: int) -> None:
    data = os.urandom(size)
    bid = blob_id()
    with pytest.raises(DigestMismatch):
        await sidecar.put(bid, chunked(data, MIB), sha256=sha(b"not these bytes"))
    assert not await sidecar.exists(bid)
    with pytest.raises(DigestMismatch):
        await sidecar.put_bytes(bid, data, sha256=sha(b"not these bytes"))
    assert not await sidecar.exists(bid)
    # And nothing half-written is left where local kinds stage their temp files.
    if sidecar.local:
        staging: Path = sidecar.root / "tmp"  # type: ignore[attr-defined]
        assert not list(staging.glob(f"{bid}*"))


class SourceGone(Exception):
    """What the handler's source raises when a chunk is gone from the log."""


async def test_a_source_failing_midway_stores_nothing_and_its_error_surfaces(
    sidecar: Sidecar,
) -> None:
    async def failing() -> AsyncIterator[bytes]:
        for _ in range(9):  # past one S3 part, so a multipart upload is under way and aborted
            yield os.urandom(MIB)
        raise SourceGone

    bid = blob_id()
    with pytest.raises(SourceGone):
        await sidecar.put(bid, failing(), sha256=sha(b"whatever"))
    assert not await sidecar.exists(bid)


async def test_concurrent_puts_of_one_blob_leave_one_good_copy(sidecar: Sidecar) -> None:
    bid, data = blob_id(), os.urandom(1 * MIB + 17)
    digest = sha(data)
    writes = [sidecar.put(bid, chunked(data, 128 * 1024), sha256=digest) for _ in range(4)]
    writes += [sidecar.put_bytes(bid, data, sha256=digest) for _ in range(4)]
    results = await asyncio.gather(*writes)
    assert {(r.size, r.sha256) for r in results} == {(len(data), digest)}
    assert await read(sidecar, bid) == data
    assert await sidecar.verify(bid, digest)


async def test_invalid_blob_ids_are_refused(sidecar: Sidecar) -> None:
    for bad in ("../escape", "a/b", "", "x" * 200):
        with pytest.raises(StorageError):
            await sidecar.put_bytes(bad, b"x")


# ---------------------------------------------------------------- node: its own credentials


def basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


async def test_a_node_answers_only_its_own_credentials(node: Node) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{node.url}/healthz") as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
            assert (await r.json(content_type=None))["code"] == "Unauthorized"
        async with session.put(
            f"{node.url}/blobs/abc", data=b"x", headers=basic(NODE_KEY, "wrong")
        ) as r:
            assert r.status == 403
            assert r.content_type == "application/problem+json"
        async with session.get(f"{node.url}/blobs/abc", headers=basic("other", NODE_SECRET)) as r:
            assert r.status == 403
        async with session.get(f"{node.url}/blobs/abc", headers=basic(NODE_KEY, NODE_SECRET)) as r:
            assert r.status == 404 and (await r.json(content_type=None))["code"] == "NoSuchBlob"
    bid = blob_id()
    wrong = build_sidecar(f"w=node:http://{NODE_KEY}:wrong@127.0.0.1:{node.port}")
    right = build_sidecar(f"r=node:http://{NODE_KEY}:{QUOTED_SECRET}@127.0.0.1:{node.port}")
    try:
        health = await wrong.health()
        assert not health.ok and "credentials" in health.detail
        with pytest.raises(StorageError, match="credentials"):
            await wrong.put_bytes(bid, b"x")
        assert not await right.exists(bid)
    finally:
        await wrong.close()
        await right.close()


async def test_a_node_started_with_a_credentials_file_creates_it(tmp_path: Path) -> None:
    port, creds = free_port(), tmp_path / "node-credentials"
    argv = [
        sys.executable,
        "-m",
        "mycloud.cli",
        "storage-node",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(port),
        "--credentials",
        str(creds),
    ]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        while not creds.exists() or not creds.read_text():
            assert process.poll() is None
            await asyncio.sleep(0.05)
        assert creds.stat().st_mode & 0o777 == 0o600
        fields = dict(line.split(" = ") for line in creds.read_text().splitlines() if " = " in line)
        spec = (
            f"f=node:http://{fields['aws_access_key_id']}:"
            f"{urllib.parse.quote(fields['aws_secret_access_key'], safe='')}@127.0.0.1:{port}"
        )
        sidecar = build_sidecar(spec)
        try:
            for _ in range(100):
                if (await sidecar.health()).ok:
                    break
                await asyncio.sleep(0.05)
            assert (await sidecar.put_bytes("b1", b"data")).size == 4
        finally:
            await sidecar.close()
    finally:
        process.terminate()
        process.wait(10)


async def test_an_unreachable_node_fails_in_bounded_time() -> None:
    sidecar = build_sidecar(f"u=node:http://k:s@127.0.0.1:{free_port()}?retries=1&timeout=1")
    try:
        started = time.monotonic()
        assert not (await sidecar.health()).ok
        with pytest.raises(StorageError):
            await sidecar.put_bytes(blob_id(), b"x")
        with pytest.raises(StorageError):
            await read(sidecar, blob_id())
        assert time.monotonic() - started < 5
    finally:
        await sidecar.close()


# ---------------------------------------------------------------- s3: the layout in the bucket


async def test_s3_objects_are_prefix_slash_blob_id_carrying_their_digest(seaweed: Seaweed) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint,
        region_name="us-east-1",
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
    )
    bucket = f"layout-{uuid.uuid4().hex[:10]}"
    hostport = seaweed.endpoint.removeprefix("http://")
    sidecar = build_sidecar(
        f"b=s3:http://{seaweed.access_key}:{seaweed.secret_key}@{hostport}/{bucket}/backups/eu"
    )
    try:
        small, large = os.urandom(1000), os.urandom(9 * MIB)
        ids = blob_id(), blob_id()
        await sidecar.put_bytes(ids[0], small)  # creates the bucket
        await sidecar.put(ids[1], chunked(large, MIB), sha256=sha(large))  # multipart
        for bid, data in zip(ids, (small, large), strict=True):
            head = await asyncio.to_thread(
                client.head_object, Bucket=bucket, Key=f"backups/eu/{bid}"
            )
            assert head["ContentLength"] == len(data)
            assert head["Metadata"] == {"sha256": sha(data)}
        # Bytes replaced behind the sidecar's back, without a recorded digest: verify downloads
        # and hashes them instead of trusting the metadata.
        await asyncio.to_thread(
            client.put_object, Bucket=bucket, Key=f"backups/eu/{ids[0]}", Body=b"tampered"
        )
        assert not await sidecar.verify(ids[0], sha(small))
        assert await sidecar.verify(ids[0], sha(b"tampered"))
        listed = await asyncio.to_thread(client.list_multipart_uploads, Bucket=bucket)
        assert not listed.get("Uploads")  # nothing left half-uploaded
    finally:
        await sidecar.close()


async def test_s3_with_wrong_credentials_is_unhealthy(seaweed: Seaweed) -> None:
    hostport = seaweed.endpoint.removeprefix("http://")
    sidecar = build_sidecar(f"b=s3:http://{seaweed.access_key}:nope@{hostport}/whatever")
    try:
        assert not (await sidecar.health()).ok
        with pytest.raises(StorageError):
            await sidecar.put_bytes(blob_id(), b"x")
    finally:
        await sidecar.close()


# ---------------------------------------------------------------- nas: a hung or absent share


def release(fifo: Path) -> None:
    """Open the FIFO's write end once, which wakes every reader blocked opening it."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


async def test_a_hung_share_fails_within_its_budget_and_never_blocks_the_loop(
    tmp_path: Path,
) -> None:
    nas = NasSidecar("nas", tmp_path, timeout=0.5, per_mib=0.1, threads=3)
    stuck = blob_id()
    fifo = nas.path(stuck)
    fifo.parent.mkdir(parents=True)
    # Opening a FIFO for reading blocks until a writer appears, as a read on a hung NFS mount
    # blocks until the server answers: a real blocked system call, not a simulated delay.
    os.mkfifo(fifo)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        for operation in (read(nas, stuck), nas.put_bytes(stuck, b"x"), nas.verify(stuck, "0")):
            began = time.monotonic()
            with pytest.raises(Stalled):
                await operation
            assert time.monotonic() - began < 1.5
        assert ticks > (time.monotonic() - started) / 0.01 / 3  # the loop kept running
        # Three threads are stuck, which is all this sidecar may use: further work waits for a
        # slot within its own budget and fails fast instead of piling up threads.
        with pytest.raises(Stalled):
            await nas.put_bytes(blob_id(), b"x")
        release(fifo)
        await asyncio.sleep(0.3)  # the stuck calls return and hand their slots back
        other = blob_id()
        await nas.put_bytes(other, b"fine")
        assert await read(nas, other) == b"fine"
    finally:
        ticking.cancel()
        release(fifo)
        await nas.close()


async def test_an_absent_share_fails_fast_and_is_never_created(tmp_path: Path) -> None:
    root = tmp_path / "mnt" / "nas" / "mycloud"
    nas = build_sidecar(f"n=nas:{root}?timeout=2")
    started = time.monotonic()
    health = await nas.health()
    assert not health.ok and "not mounted" in health.detail
    bid = blob_id()
    with pytest.raises(StorageError, match="not mounted"):
        await nas.put_bytes(bid, b"x")
    with pytest.raises(StorageError, match="not mounted"):
        await nas.put(bid, chunked(b"x" * 10), sha256=sha(b"x" * 10))
    with pytest.raises(StorageError, match="not mounted"):
        await nas.exists(bid)
    with pytest.raises(StorageError, match="not mounted"):  # not a BlobNotFound
        await read(nas, bid)
    with pytest.raises(StorageError, match="not mounted"):
        await nas.delete(bid)
    assert time.monotonic() - started < 1
    assert not (tmp_path / "mnt").exists()  # nothing written to the local disk instead


# ---------------------------------------------------------------- specs


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nokind", "is not name=kind:location"),
        ("a=disk", "is not name=kind:location"),
        ("a=ftp:/x", "unknown kind 'ftp'"),
        ("a b=disk:/x", "name may use only"),
        ("n=node:127.0.0.1:9000", "http"),
        ("n=node:http://127.0.0.1:9000", "KEY:SECRET"),
        ("n=s3:http://K:topsecret@127.0.0.1:9000", "needs a bucket"),
        ("n=nas:/mnt/x?timeout=soon", "timeout='soon' is not a valid float"),
        ("n=nas:/mnt/x?speed=1", "unknown option 'speed'"),
        ("n=node:http://K:topsecret@127.0.0.1:1?retries=-1", "must be positive"),
    ],
)
def test_bad_specs_are_refused_in_one_line_without_the_secret(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        build_sidecars([spec])
    text = str(info.value)
    assert message in text and "\n" not in text and "topsecret" not in text


def test_specs_build_every_kind_with_its_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        build_sidecars([f"a=disk:{tmp_path}/1", f"a=disk:{tmp_path}/2"])
    disk, nas, node, s3 = build_sidecars(
        [
            f"d=disk:{tmp_path / 'd'}",
            f"n=nas:{tmp_path / 'absent'}?timeout=3&per_mib=0.5",
            "r=node:http://k:s%40x@127.0.0.1:1?retries=1",
            "b=s3:https://K:S@127.0.0.1:9/bk/a/b?region=eu-west-1&part_mib=16",
        ]
    )
    assert [(s.kind, s.local) for s in (disk, nas, node, s3)] == [
        ("disk", True),
        ("nas", True),
        ("node", False),
        ("s3", False),
    ]
    assert (nas.timeout, nas.per_mib) == (3.0, 0.5)  # type: ignore[attr-defined]
    assert not (tmp_path / "absent").exists()  # building touches no share
    assert (node.endpoint.key, node.endpoint.secret) == ("k", "s@x")  # type: ignore[attr-defined]
    assert (s3.bucket, s3.prefix, s3.part_size) == ("bk", "a/b", 16 * MIB)  # type: ignore[attr-defined]
    assert s3.signer.region == "eu-west-1"  # type: ignore[attr-defined]
