"""`mycloud replay` rebuilds read models equal, row for row, to the live ones — on SQLite and on
PostgreSQL — with the whole stack running."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from projections import all_projections, compare, open_database
from tests.e2e.stack import Stack


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    env = {}
    if request.param == "postgres":
        env["MYCLOUD_DATABASE_URL"] = request.getfixturevalue("pg_database_url")
    s = Stack(tmp_path / "data", env=env).start()
    try:
        yield s
    finally:
        s.stop()


def mycloud(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.env, "MYCLOUD_DATA_DIR": str(stack.data_dir)}
    env.setdefault("MYCLOUD_DATABASE_URL", f"sqlite:///{stack.data_dir / 'projections.db'}")
    return subprocess.run(
        [sys.executable, "-m", "mycloud.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def workload(stack: Stack) -> None:
    async with aiohttp.ClientSession(stack.url, headers=stack.auth) as http:
        for b in ("alpha", "beta", "gamma"):
            async with http.post("/buckets", json={"name": b}) as r:
                assert r.status == 201

        async def put(b: str, k: str, data: bytes) -> None:
            async with http.put(f"/buckets/{b}/objects/{k}", data=data) as r:
                assert r.status == 200

        await asyncio.gather(*(put("alpha", f"k/{i}/é", os.urandom(100 + i)) for i in range(40)))
        await put("beta", "big", os.urandom(400 * 1024))
        await put("beta", "big", b"overwritten")
        for i in range(0, 40, 3):
            async with http.delete(f"/buckets/alpha/objects/k/{i}/%C3%A9") as r:
                assert r.status == 204
        async with http.delete("/buckets/gamma") as r:
            assert r.status == 204
        async with http.delete("/buckets/alpha") as r:
            assert r.status == 409  # a rejection is recorded too


async def test_replay_into_a_fresh_database_equals_live_row_for_row(
    backend_stack: Stack, tmp_path: Path
) -> None:
    await workload(backend_stack)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = mycloud(backend_stack, "replay", "--into", fresh, "--compare")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "equal, row for row" in result.stdout
    # and the comparison can fail: change one live row, compare again
    live_url = backend_stack.env.get("MYCLOUD_DATABASE_URL") or (
        f"sqlite:///{backend_stack.data_dir / 'projections.db'}"
    )
    live = await open_database(live_url)
    try:
        async with live.transaction() as tx:
            await tx.execute("UPDATE objects SET size = size + 1 WHERE bucket = 'beta'")
        built = await open_database(fresh)
        try:
            diffs = await compare(live, built, [p.name for p in all_projections()])
        finally:
            await built.close()
        assert diffs and any("beta" in d for d in diffs)
        # an in-place rebuild repairs the damaged read model from the log
        result = mycloud(backend_stack, "replay", "objects")
        assert result.returncode == 0, result.stdout + result.stderr
        again = mycloud(
            backend_stack, "replay", "--into", f"sqlite:///{tmp_path / 'f2.db'}", "--compare"
        )
        assert again.returncode == 0 and "equal, row for row" in again.stdout, again.stdout
    finally:
        await live.close()
    async with aiohttp.ClientSession(backend_stack.url, headers=backend_stack.auth) as http:
        async with http.get("/buckets/beta/objects/big") as r:
            assert await r.read() == b"overwritten"


def test_replay_of_unknown_projection_is_a_one_line_error(stack: Stack) -> None:
    result = mycloud(stack, "replay", "nope")
    assert result.returncode != 0
    assert "unknown projection" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_status_reports_lag_and_sidecar_health(stack: Stack) -> None:
    result = mycloud(stack, "status")
    assert result.returncode == 0, result.stderr
    assert "projection objects: checkpoint" in result.stdout
    assert "sidecar   disk (disk): ok" in result.stdout
