"""Shared fixtures. Each section belongs to one part of the system; keep them separate.

Fixtures chain like nats.py's own tests: store dir -> real server -> client.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bus.log import Bus
from bus.server import NatsServer
from tests.pg import PostgresCluster, PostgresUnavailable

# ---------------------------------------------------------------- NATS


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(directory=tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    client = await Bus.connect(nats_server.url, name="test")
    await client.ensure_streams()
    try:
        yield client
    finally:
        await client.close()


# ---------------------------------------------------------------- PostgreSQL (tests/pg.py)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster.create()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests need a local server: {exc}")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A database in a throwaway cluster started for this test session."""
    return postgres_cluster.create_database("mycloud")


@pytest.fixture
def pg_database_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for one test, dropped after it."""
    name = f"test_{os.urandom(6).hex()}"
    url = postgres_cluster.create_database(name)
    try:
        yield url
    finally:
        postgres_cluster.drop_database(name)
