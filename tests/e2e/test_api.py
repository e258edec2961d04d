"""The native JSON API against the real stack (nats-server, handler, projector, api processes)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.e2e.stack import Stack


def basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def name() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


async def make_bucket(http: aiohttp.ClientSession) -> str:
    b = name()
    async with http.post("/buckets", json={"name": b}) as r:
        assert r.status == 201, await r.text()
    return b


async def test_bucket_lifecycle_create_list_get_delete(http: aiohttp.ClientSession) -> None:
    b = name()
    async with http.post("/buckets", json={"name": b}) as r:
        assert r.status == 201
        body = await r.json()
        assert body["name"] == b and body["owner"] == "root" and body["region"] == "us-east-1"
    async with http.get("/buckets") as r:
        assert b in [x["name"] for x in (await r.json())["buckets"]]
    async with http.get(f"/buckets/{b}") as r:
        assert r.status == 200
    async with http.delete(f"/buckets/{b}") as r:
        assert r.status == 204
    async with http.get("/buckets") as r:  # read-your-writes: gone at once
        assert b not in [x["name"] for x in (await r.json())["buckets"]]
    async with http.get(f"/buckets/{b}") as r:
        assert r.status == 404 and (await r.json())["code"] == "NoSuchBucket"


async def test_object_round_trip_with_metadata_and_slashes(http: aiohttp.ClientSession) -> None:
    b = await make_bucket(http)
    key = "dir/sub dir/naïve file+1.txt"
    path = f"/buckets/{b}/objects/" + aiohttp.helpers.quote(key, safe="/")  # type: ignore[attr-defined]
    data = b"hello world\n" * 100
    headers = {"Content-Type": "text/plain", "x-amz-meta-color": "blue"}
    async with http.put(path, data=data, headers=headers) as r:
        assert r.status == 200, await r.text()
        body = await r.json()
        assert body["etag"] == hashlib.md5(data).hexdigest()
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
    async with http.get(path) as r:
        assert r.status == 200
        assert await r.read() == data
        assert r.headers["Content-Type"] == "text/plain"
        assert r.headers["x-amz-meta-color"] == "blue"
        assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    async with http.head(path) as r:
        assert r.status == 200 and int(r.headers["Content-Length"]) == len(data)
    async with http.get(path, headers={"Range": "bytes=6-10"}) as r:
        assert r.status == 206 and await r.read() == b"world"
        assert r.headers["Content-Range"] == f"bytes 6-10/{len(data)}"
    async with http.get(path, headers={"Range": "bytes=-4"}) as r:
        assert r.status == 206 and await r.read() == data[-4:]
    async with http.get(path, headers={"Range": f"bytes={len(data)}-"}) as r:
        assert r.status == 416 and (await r.json())["code"] == "InvalidRange"
    etag = f'"{hashlib.md5(data).hexdigest()}"'
    async with http.get(path, headers={"If-None-Match": etag}) as r:
        assert r.status == 304
    async with http.get(path, headers={"If-Match": '"nope"'}) as r:
        assert r.status == 412
    async with http.delete(path) as r:
        assert r.status == 204
    async with http.get(path) as r:
        assert r.status == 404 and (await r.json())["code"] == "NoSuchKey"


async def test_overwrite_last_write_wins(http: aiohttp.ClientSession) -> None:
    b = await make_bucket(http)
    for i in range(3):
        async with http.put(f"/buckets/{b}/objects/k", data=f"v{i}".encode()) as r:
            assert r.status == 200
    async with http.get(f"/buckets/{b}/objects/k") as r:
        assert await r.read() == b"v2"


async def test_listing_is_paginated_in_byte_order_with_prefix(http: aiohttp.ClientSession) -> None:
    b = await make_bucket(http)
    keys = ["a/1", "a/2", "a/3", "b/1", "a/é", "a/Z", "c"]
    await asyncio.gather(*(_put(http, b, k, k.encode()) for k in keys))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"prefix": "a/", "limit": "2", **({"cursor": cursor} if cursor else {})}
        async with http.get(f"/buckets/{b}/objects", params=params) as r:
            page = await r.json()
        seen += [o["key"] for o in page["objects"]]
        if not page["is_truncated"]:
            break
        cursor = page["next_cursor"]
    assert seen == sorted([k for k in keys if k.startswith("a/")], key=lambda k: k.encode())


async def _put(http: aiohttp.ClientSession, b: str, key: str, data: bytes) -> None:
    async with http.put(f"/buckets/{b}/objects/{key}", data=data) as r:
        assert r.status == 200, await r.text()


async def test_twenty_concurrent_creates_of_one_name_have_exactly_one_winner(
    http: aiohttp.ClientSession,
) -> None:
    b = name()

    async def create() -> tuple[int, str]:
        async with http.post("/buckets", json={"name": b}) as r:
            body = await r.json()
            return r.status, body.get("code", "")

    results = await asyncio.gather(*(create() for _ in range(20)))
    assert sorted(s for s, _ in results).count(201) == 1
    assert all(code == "BucketAlreadyOwnedByYou" for s, code in results if s != 201)


async def test_same_idempotency_key_is_applied_once(http: aiohttp.ClientSession) -> None:
    b = await make_bucket(http)
    key = str(uuid.uuid4())
    statuses = []
    for payload in (b"first", b"second"):
        async with http.put(
            f"/buckets/{b}/objects/x", data=payload, headers={"Idempotency-Key": key}
        ) as r:
            statuses.append(r.status)
            seq = (await r.json())["seq"]
    assert statuses == [200, 200]
    async with http.get(f"/buckets/{b}/objects/x") as r:
        assert await r.read() == b"first"  # the retry did not apply again
    # deleting twice with one key: both answer like the first (204), one ObjectDeleted
    k2 = str(uuid.uuid4())
    for _ in range(2):
        async with http.delete(f"/buckets/{b}/objects/x", headers={"Idempotency-Key": k2}) as r:
            assert r.status == 204
    assert seq > 0


async def test_delete_of_non_empty_bucket_is_refused_and_keeps_data(
    http: aiohttp.ClientSession,
) -> None:
    b = await make_bucket(http)
    await _put(http, b, "keep", b"data")
    async with http.delete(f"/buckets/{b}") as r:
        assert r.status == 409 and (await r.json())["code"] == "BucketNotEmpty"
    async with http.get(f"/buckets/{b}/objects/keep") as r:
        assert await r.read() == b"data"


@pytest.mark.parametrize(
    "bad", ["ab", "UPPER", "under_score", "-dash", "a..b", "10.0.0.1", "x" * 64]
)
async def test_invalid_bucket_names_are_rejected(http: aiohttp.ClientSession, bad: str) -> None:
    async with http.post("/buckets", json={"name": bad}) as r:
        assert r.status == 400
        assert (await r.json())["code"] == "InvalidBucketName"
    async with http.get("/buckets") as r:
        assert bad not in [x["name"] for x in (await r.json())["buckets"]]


async def test_malformed_create_bodies_are_rejected(http: aiohttp.ClientSession) -> None:
    async with http.post("/buckets", data=b"{not json") as r:
        assert r.status == 400 and (await r.json())["code"] == "MalformedJSON"
    async with http.post("/buckets", json=["x"]) as r:
        assert r.status == 400 and (await r.json())["code"] == "InvalidArgument"


async def test_missing_bucket_and_key_errors(http: aiohttp.ClientSession) -> None:
    async with http.put(f"/buckets/{name()}/objects/k", data=b"x") as r:
        assert r.status == 404 and (await r.json())["code"] == "NoSuchBucket"
    b = await make_bucket(http)
    async with http.get(f"/buckets/{b}/objects/missing") as r:
        assert r.status == 404 and (await r.json())["code"] == "NoSuchKey"
    async with http.delete(f"/buckets/{b}/objects/missing") as r:
        assert r.status == 404 and (await r.json())["code"] == "NoSuchKey"
    async with http.delete(f"/buckets/{name()}") as r:
        assert r.status == 404 and (await r.json())["code"] == "NoSuchBucket"


async def test_bad_keys_are_rejected_and_store_nothing(http: aiohttp.ClientSession) -> None:
    b = await make_bucket(http)
    async with http.put(f"/buckets/{b}/objects/" + "k" * 1025, data=b"x") as r:
        assert r.status == 400 and (await r.json())["code"] == "KeyTooLongError"
    async with http.put(f"/buckets/{b}/objects/" + "k" * 1024, data=b"x") as r:
        assert r.status == 200
    async with http.put(f"/buckets/{b}/objects/bad%FF%FEutf8", data=b"x") as r:
        assert r.status == 400 and (await r.json())["code"] == "InvalidURI"
    async with http.get(f"/buckets/{b}/objects") as r:
        assert [o["key"] for o in (await r.json())["objects"]] == ["k" * 1024]


async def test_wrong_content_md5_is_rejected(http: aiohttp.ClientSession) -> None:
    b = await make_bucket(http)
    async with http.put(
        f"/buckets/{b}/objects/k", data=b"abc", headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}
    ) as r:
        assert r.status == 400 and (await r.json())["code"] == "BadDigest"
    async with http.get(f"/buckets/{b}/objects/k") as r:
        assert r.status == 404


async def test_credentials_are_required_and_checked(stack: Stack) -> None:
    async with aiohttp.ClientSession(stack.url) as anon:
        async with anon.get("/buckets") as r:
            assert r.status == 401 and (await r.json())["code"] == "Unauthorized"
        key, _ = stack.credentials
        async with anon.get("/buckets", headers=basic(key, "wrong")) as r:
            assert r.status == 403 and (await r.json())["code"] == "SignatureDoesNotMatch"
        async with anon.get("/buckets", headers=basic("MCNOSUCHKEY", "x")) as r:
            assert r.status == 403 and (await r.json())["code"] == "InvalidAccessKeyId"
        async with anon.post("/buckets", json={"name": name()}, headers=basic(key, "wrong")) as r:
            assert r.status == 403
        async with anon.get("/healthz") as r:
            assert r.status == 200


async def test_credentials_file_is_private(stack: Stack) -> None:
    mode = os.stat(stack.data_dir / "credentials").st_mode & 0o777
    assert mode == 0o600


async def test_openapi_and_metrics_are_served(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.get("/openapi.json") as r:
        spec = await r.json()
        assert "/buckets/{bucket}/objects/{key}" in spec["paths"]
    async with http.get("/metrics") as r:
        assert "mycloud_http_requests_total" in await r.text()


async def test_body_shorter_than_content_length_stores_nothing(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    b = await make_bucket(http)
    host, port = "127.0.0.1", stack.port
    for size, sent in ((1000, 10), (10 * 1024 * 1024, 5 * 1024 * 1024)):
        _, writer = await asyncio.open_connection(host, port)
        head = (
            f"PUT /buckets/{b}/objects/partial HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {stack.auth['Authorization']}\r\nContent-Length: {size}\r\n\r\n"
        )
        writer.write(head.encode() + b"x" * sent)
        await writer.drain()
        writer.close()  # client disconnects mid-upload
        await asyncio.sleep(0.5)
    async with http.get(f"/buckets/{b}/objects/partial") as r:
        assert r.status == 404
    async with http.get(f"/buckets/{b}/objects") as r:
        assert (await r.json())["objects"] == []


async def chunks(total: int, seed: bytes = b"") -> AsyncIterator[bytes]:
    block = hashlib.sha256(seed).digest() * (1024 * 1024 // 32)
    sent = 0
    while sent < total:
        n = min(len(block), total - sent)
        yield block[:n]
        sent += n


async def test_100_mib_upload_downloads_byte_identical(http: aiohttp.ClientSession) -> None:
    b = await make_bucket(http)
    size = 100 * 1024 * 1024
    expected = hashlib.sha256()
    async for c in chunks(size, b"big"):
        expected.update(c)
    async with http.put(
        f"/buckets/{b}/objects/big.bin",
        data=chunks(size, b"big"),
        headers={"Content-Length": str(size)},
    ) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["sha256"] == expected.hexdigest()
    got = hashlib.sha256()
    async with http.get(f"/buckets/{b}/objects/big.bin") as r:
        async for c in r.content.iter_chunked(1 << 20):
            got.update(c)
    assert got.hexdigest() == expected.hexdigest()
    async with http.get(f"/buckets/{b}/objects") as r:
        assert [(o["key"], o["size"]) for o in (await r.json())["objects"]] == [("big.bin", size)]
    async with http.delete(f"/buckets/{b}/objects/big.bin") as r:
        assert r.status == 204
    async with http.delete(f"/buckets/{b}") as r:
        assert r.status == 204


async def test_bytes_of_deleted_and_overwritten_objects_are_reclaimed(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    b = await make_bucket(http)

    def blob_files() -> set[str]:
        return {f for _, _, files in os.walk(stack.data_dir / "blobs" / "blobs") for f in files}

    before = blob_files()
    await _put(http, b, "k", b"one")
    first = blob_files() - before
    await _put(http, b, "k", b"two")
    second = blob_files() - before - first
    assert len(first) == 1 and len(second) == 1
    await _put(http, b, "gone", b"three")
    third = blob_files() - before - first - second
    async with http.delete(f"/buckets/{b}/objects/gone") as r:
        assert r.status == 204
    for _ in range(100):  # the collector runs every 2 s
        now = blob_files()
        if not (first & now) and not (third & now):
            break
        await asyncio.sleep(0.1)
    now = blob_files()
    assert not first & now, "the overwritten version's bytes were not reclaimed"
    assert not third & now, "the deleted object's bytes were not reclaimed"
    assert second <= now, "the live version's bytes must stay"
    async with http.get(f"/buckets/{b}/objects/k") as r:
        assert await r.read() == b"two"


async def test_the_stacks_api_identity_cannot_forge_events(stack: Stack) -> None:
    """The embedded nats-server runs with per-role users: the api's may not publish events."""
    import nats

    from bus import identities

    url = (stack.data_dir / "run" / "nats.url").read_text().strip()
    api = identities.load(stack.data_dir, "api")
    assert api is not None and api["user"] == "api"
    nc = await nats.connect(
        url, user=api["user"], password=api["password"], max_reconnect_attempts=0, error_cb=_ignore
    )
    try:
        js = nc.jetstream(timeout=1.0)
        before = (await js.stream_info("EVENTS")).state.last_seq
        with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
            await js.publish("evt.s3.bucket.forged.state", b"{}")
        assert (await js.stream_info("EVENTS")).state.last_seq == before
    finally:
        await nc.close()


async def _ignore(_: Exception) -> None:
    return None
