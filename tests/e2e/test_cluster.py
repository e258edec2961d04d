"""Cluster mode on loopback (tests/e2e/cluster.py): 3 NATS nodes, every MyCloud role twice, a
shared read-model database and 3 storage targets.

- Losing 2 of 3 NATS nodes leaves no quorum: writes answer 503 (never a 2xx that is not kept),
  reads still work, and once the nodes return the service resumes with nothing lost.
- Chaos: a steady upload and delete load against both api replicas while a loop kill -9s a random
  process (any role, a storage node, or one NATS node, restarted on its own store) and brings it
  back. Afterwards: no acknowledged write lost, no acknowledged delete undone, every readable object
  byte-identical, and the read models equal to a fresh replay of the log.

Clients do what a 503 asks of them: retry with the same Idempotency-Key (on either api replica), so
every operation ends with a definitive answer or is counted as unknown.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bus.log import Bus
from projections import compare, open_database
from projections.replay import build_fresh
from tests.e2e.cluster import (
    Cluster,
    Storage,
    storage_node_available,
    stream_leader,
    stream_leaders,
    wait_replicated,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]

DEFINITIVE_FAILURES = {400, 403, 404, 409, 411, 412, 416}
SUCCESS = {"PUT": 200, "DELETE": 204}
CHAOS_SECONDS = 60.0
CLIENTS = 8


def body(key: str) -> bytes:
    """A key's bytes, derived from the key: mostly small (inline in the command), every 8th
    larger than 256 KiB (chunked through the BLOBS stream)."""
    seed = hashlib.sha256(key.encode()).digest()
    size = 300 * 1024 + seed[0] if seed[1] % 8 == 0 else 500 + seed[0] * 8
    return (seed * (size // 32 + 1))[:size]


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    try:
        database_url: str | None = request.getfixturevalue("pg_database_url")
    except pytest.skip.Exception:
        database_url = None  # no PostgreSQL here: both projectors share one SQLite file
    storage: Storage = "nodes" if storage_node_available() else "disk"
    c = Cluster(tmp_path / "cluster", database_url=database_url, storage=storage)
    c.start(timeout=120)
    try:
        yield c
    finally:
        c.stop()


# ---------------------------------------------------------------- clients


@dataclass
class Ledger:
    """What the clients were told, per key."""

    acked_puts: set[str] = field(default_factory=set)
    acked_deletes: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    """Keys with an operation that never got a definitive answer: either outcome is allowed."""
    ops: int = 0
    attempts: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    acks: list[float] = field(default_factory=list)
    """When each acknowledgement came: the longest gap shows the worst fail-over stall."""

    def must_exist(self) -> set[str]:
        return self.acked_puts - self.acked_deletes - self.unknown

    def must_be_gone(self) -> set[str]:
        return (self.acked_deletes | self.refused) - self.unknown


async def attempt(
    http: aiohttp.ClientSession, method: str, url: str, key: str, idem: str, timeout: float
) -> int | None:
    """One try; the status, or None when the connection failed or timed out."""
    try:
        async with http.request(
            method,
            url,
            data=body(key) if method == "PUT" else None,
            headers={"Idempotency-Key": idem},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as r:
            await r.read()
            return r.status
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return None


async def until_definitive(
    http: aiohttp.ClientSession,
    urls: list[str],
    method: str,
    bucket: str,
    key: str,
    deadline: float,
    ledger: Ledger,
    idem: str | None = None,
) -> int | None:
    """Retry with one Idempotency-Key, alternating api replicas, until a definitive answer."""
    idem = idem or str(uuid.uuid4())
    first = random.randrange(len(urls))
    tries = 0
    while time.monotonic() < deadline:
        url = f"{urls[(first + tries) % len(urls)]}/buckets/{bucket}/objects/{key}"
        tries += 1
        ledger.attempts += 1
        status = await attempt(http, method, url, key, idem, timeout=45.0)
        if status is not None:
            ledger.statuses[status] = ledger.statuses.get(status, 0) + 1
        if status == SUCCESS[method] or status in DEFINITIVE_FAILURES:
            return status
        await asyncio.sleep(0.2 if status is None else 0.5)
    return None


def record(ledger: Ledger, method: str, key: str, status: int | None) -> None:
    ledger.ops += 1
    if status is None:
        ledger.unknown.add(key)
    elif status == SUCCESS[method]:
        (ledger.acked_puts if method == "PUT" else ledger.acked_deletes).add(key)
        ledger.acks.append(time.monotonic())
    elif method == "PUT":
        ledger.refused.add(key)


async def create_bucket(http: aiohttp.ClientSession, url: str, name: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        async with http.post(f"{url}/buckets", json={"name": name}) as r:
            if r.status in (201, 409):
                return
        assert time.monotonic() < deadline, f"bucket {name} not created: {r.status}"
        await asyncio.sleep(0.5)


async def verify(
    http: aiohttp.ClientSession, urls: list[str], bucket: str, ledger: Ledger
) -> tuple[list[str], list[str], list[str]]:
    """(lost, resurrected, corrupt): acknowledged puts not readable, acknowledged deletes
    readable, readable objects whose bytes differ; read through every api replica."""
    lost, resurrected, corrupt = [], [], []
    listed: set[str] = set()
    for url in urls:
        cursor = None
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            async with http.get(f"{url}/buckets/{bucket}/objects", params=params) as r:
                assert r.status == 200, await r.text()
                page = await r.json()
            listed |= {o["key"] for o in page["objects"]}
            if not page["is_truncated"]:
                break
            cursor = page["next_cursor"]
    sem = asyncio.Semaphore(16)

    async def check(key: str, i: int) -> None:
        async with sem, http.get(f"{urls[i % len(urls)]}/buckets/{bucket}/objects/{key}") as r:
            data = await r.read()
            if r.status == 200 and data != body(key):
                corrupt.append(key)
            if r.status == 200 and key in ledger.must_be_gone():
                resurrected.append(key)
            if r.status != 200 and key in ledger.must_exist():
                lost.append(key)

    keys = sorted(listed | ledger.must_exist() | ledger.must_be_gone())
    await asyncio.gather(*(check(k, i) for i, k in enumerate(keys)))
    lost += sorted(ledger.must_exist() - listed)
    resurrected += sorted(listed & ledger.must_be_gone())
    return sorted(set(lost)), sorted(set(resurrected)), sorted(corrupt)


async def settled(cluster: Cluster, bus: Bus, timeout: float = 90.0) -> int:
    """Until the log stops growing and the shared read models hold all of it; returns its last
    sequence. Work goes on after the clients stop: replicas that missed a write (a storage node
    was down) catch up and are recorded as events, which the projectors then apply."""
    db = await open_database(str(cluster.database_url))
    try:
        deadline = time.monotonic() + timeout
        while True:
            last = await bus.last_sequence()
            low = await db.fetchval("SELECT min(last_seq) FROM projection_checkpoints")
            if int(low or 0) >= last:
                await asyncio.sleep(2.0)
                if await bus.last_sequence() == last:
                    return last
            assert time.monotonic() < deadline, f"log still growing at {last}, read models at {low}"
            await asyncio.sleep(0.2)
    finally:
        await db.close()


async def replay_differences(cluster: Cluster, tmp_path: Path) -> list[str]:
    """Differences between the live read models and ones built afresh from the whole log, both
    taken at the same sequence (retried if an event slipped in while comparing)."""
    bus = await cluster.bus()
    try:
        for attempt in range(3):
            last = await settled(cluster, bus)
            live = await open_database(str(cluster.database_url))
            fresh = await build_fresh(bus, f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}")
            try:
                differences = await compare(live, fresh)
            finally:
                await fresh.close()
                await live.close()
            if await bus.last_sequence() == last:
                return differences
        raise AssertionError("the log kept growing while the read models were compared")
    finally:
        await bus.close()


# ---------------------------------------------------------------- tests


async def test_losing_two_of_three_nats_nodes_fails_writes_with_503_and_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    urls = cluster.api_urls
    ledger = Ledger()
    async with aiohttp.ClientSession(headers=cluster.auth) as http:
        await create_bucket(http, urls[0], "quorum")
        soon = time.monotonic() + 60
        before = [f"before-{i}" for i in range(12)]
        for key, status in zip(
            before,
            await asyncio.gather(
                *(until_definitive(http, urls, "PUT", "quorum", k, soon, ledger) for k in before)
            ),
            strict=True,
        ):
            assert status == 200, f"{key}: {status}"
            record(ledger, "PUT", key, status)

        # Two nodes down, the EVENTS leader among them: the survivor cannot form a majority.
        bus = await cluster.bus()
        leader = int((await stream_leader(bus)).rsplit("-", 1)[1])
        await bus.close()
        victims = [leader, leader % 3 + 1]
        for v in victims:
            cluster.kill9(f"nats-{v}")
        down_at = time.monotonic()

        # Writes while the log has no quorum: new puts and deletes of acknowledged objects,
        # through both replicas. Each client keeps its idempotency key for the retry below.
        outage = [("PUT", f"during-{i}", str(uuid.uuid4())) for i in range(6)]
        outage += [("DELETE", k, str(uuid.uuid4())) for k in before[:4]]

        async def timed(i: int, method: str, key: str, idem: str) -> tuple[int | None, float]:
            url = f"{urls[i % 2]}/buckets/quorum/objects/{key}"
            t0 = time.monotonic()
            status = await attempt(http, method, url, key, idem, timeout=60.0)
            return status, time.monotonic() - t0

        answers = await asyncio.gather(
            *(timed(i, m, k, idem) for i, (m, k, idem) in enumerate(outage))
        )
        # Reads need no log: they come from the read models and the stored replicas.
        async with http.get(f"{urls[1]}/buckets/quorum/objects/{before[-1]}") as r:
            read_during_outage = r.status
            assert r.status == 200 and await r.read() == body(before[-1])
        statuses = [s for s, _ in answers]
        print(
            f"\nquorum lost: answers {statuses} after "
            f"{min(t for _, t in answers):.1f}-{max(t for _, t in answers):.1f} s"
        )
        assert all(s == 503 for s in statuses), f"writes without quorum must be 503: {statuses}"

        for v in victims:
            cluster.restart(f"nats-{v}")
        restarted_at = time.monotonic()
        # Service resumes: the first new write that succeeds, retried like any client would.
        first = await until_definitive(
            http, urls, "PUT", "quorum", "after-0", time.monotonic() + 90, ledger
        )
        resumed_after = time.monotonic() - restarted_at
        assert first == 200, f"no write succeeded within 90 s of the nodes' return: {first}"
        record(ledger, "PUT", "after-0", first)

        # The clients' retries of what failed during the outage now get definitive answers.
        soon = time.monotonic() + 90
        finals = await asyncio.gather(
            *(
                until_definitive(http, urls, m, "quorum", k, soon, ledger, idem)
                for m, k, idem in outage
            )
        )
        for (method, key, _), status in zip(outage, finals, strict=True):
            assert status == SUCCESS[method], f"retry of {method} {key}: {status}"
            record(ledger, method, key, status)
        print(
            f"quorum lost for {restarted_at - down_at:.1f} s; reads meanwhile: "
            f"{read_during_outage}; first write succeeded {resumed_after:.1f} s after restart"
        )

        lost, resurrected, corrupt = await verify(http, urls, "quorum", ledger)
        assert (lost, resurrected, corrupt) == ([], [], [])
        assert len(ledger.must_exist()) == 12 - 4 + 6 + 1
    assert await replay_differences(cluster, tmp_path) == []


async def test_chaos_kill9_of_random_processes_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    urls = cluster.api_urls
    ledger = Ledger()
    faults: list[tuple[float, str]] = []
    rng = random.Random()
    async with aiohttp.ClientSession(headers=cluster.auth) as http:
        await create_bucket(http, urls[0], "chaos")
        started = time.monotonic()
        chaos_ends = started + CHAOS_SECONDS
        op_deadline = chaos_ends + 60  # operations begun late still get their answer
        stop = asyncio.Event()

        async def client(n: int) -> None:
            mine: list[str] = []  # acknowledged keys of this client: only it deletes them
            i = 0
            while not stop.is_set():
                if mine and rng.random() < 0.3:
                    method, key = "DELETE", mine.pop(rng.randrange(len(mine)))
                else:
                    method, key = "PUT", f"c{n}-{i:05d}"
                    i += 1
                status = await until_definitive(
                    http, urls, method, "chaos", key, op_deadline, ledger
                )
                record(ledger, method, key, status)
                if method == "PUT" and status == 200:
                    mine.append(key)

        async def injector() -> None:
            bus = await cluster.bus()
            try:
                while time.monotonic() < chaos_ends - 5:
                    await asyncio.sleep(rng.uniform(1.0, 2.5))
                    # a third of the faults each hit NATS, storage and the MyCloud roles
                    kind = rng.choice(["nats-", "storage-", ":"])
                    target = rng.choice([t for t in cluster.targets() if kind in t])
                    if target.startswith("nats-"):
                        # one node at a time, and only once the last one back has caught up
                        try:
                            await wait_replicated(bus, timeout=30)
                        except TimeoutError:
                            continue
                    if target.startswith("nats-"):
                        leaders = await stream_leaders(bus)
                        if f"mycloud-{target.split('-')[1]}" in leaders.values():
                            target += " (leader)"
                    faults.append((time.monotonic() - started, target))
                    cluster.kill9(target.split()[0])
                    if target.startswith(("nats-", "storage-")):
                        await asyncio.sleep(rng.uniform(0.5, 3.0))
                        await asyncio.to_thread(cluster.restart, target.split()[0])
            finally:
                await bus.close()

        clients = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
        await injector()
        await asyncio.sleep(max(chaos_ends - time.monotonic(), 0))
        stop.set()
        await asyncio.gather(*clients)
        load_seconds = time.monotonic() - started

        await asyncio.to_thread(cluster.wait_healthy, 60)
        bus = await cluster.bus()
        await wait_replicated(bus, timeout=60)
        await bus.close()
        lost, resurrected, corrupt = await verify(http, urls, "chaos", ledger)

    differences = await replay_differences(cluster, tmp_path)
    kinds: dict[str, int] = {}
    for _, target in faults:
        kind = target.split(":")[-1].split("-")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    acks = sorted(t for t in ledger.acks if t <= chaos_ends)
    stall, stall_at = max(((b - a, a) for a, b in itertools.pairwise(acks)), default=(0.0, 0.0))
    print(
        f"\nchaos: {ledger.ops} ops ({len(ledger.acked_puts)} puts, {len(ledger.acked_deletes)} "
        f"deletes acknowledged, {len(ledger.unknown)} unknown, {ledger.attempts} attempts, "
        f"statuses {dict(sorted(ledger.statuses.items()))}) in {load_seconds:.0f} s; longest "
        f"time without an acknowledgement {stall:.1f} s (from {stall_at - started:.0f} s)"
    )
    print("faults: " + ", ".join(f"{t:.0f}s {target}" for t, target in faults))
    print(
        f"chaos: {ledger.ops} ops, {len(faults)} faults ({kinds}), lost {len(lost)}, "
        f"resurrected {len(resurrected)}, corrupt {len(corrupt)}, "
        f"replay differences {len(differences)}"
    )
    assert len(faults) >= 8, f"too few faults injected: {faults}"
    assert len(ledger.acked_puts) >= 100, f"too little load held: {ledger.acked_puts}"
    assert not lost, f"acknowledged writes lost: {lost}"
    assert not resurrected, f"acknowledged deletes resurrected: {resurrected}"
    assert not corrupt, f"objects with wrong bytes: {corrupt}"
    assert not differences, "read models differ from a fresh replay:\n" + "\n".join(differences)
    assert len(ledger.unknown) <= ledger.ops // 20, f"too many unanswered: {ledger.unknown}"
