from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.s3_support import Raw, make_bucket
from tests.e2e.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("stack") / "data").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path / "data").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(stack.url, headers=stack.auth) as session:
        yield session


# ---------------------------------------------------------------- S3 clients (tests/e2e/test_s3_*)


@pytest.fixture(scope="module")
def s3(stack: Stack) -> Any:
    """A boto3 S3 client for the module's stack."""
    return stack.boto3()


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh bucket per test."""
    return make_bucket(s3)


@pytest.fixture(scope="module")
def raw(stack: Stack) -> Raw:
    """Hand-made signed requests, for what boto3 will not send."""
    return Raw(stack)
