"""The database layer and query helpers on a real SQLite file (no log needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bus.log import Stored
from events import Envelope, new_id
from events.s3 import BucketCreated, CommandRejected
from projections.base import iso, outcome
from projections.db import Database, IntegrityError, OperationalError, _sqlite_sql, open_database
from projections.queries import prefix_end
from projections.runner import _contiguous


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path / 'sub' / 'unit.db'}")
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE t (k TEXT COLLATE BINARY PRIMARY KEY, v BIGINT)")
    yield database
    await database.close()


def test_placeholders_become_numbered_sqlite_parameters() -> None:
    sql = "SELECT * FROM t WHERE a = $2 AND b = $1 AND c = $2 ORDER BY a FOR UPDATE"
    assert _sqlite_sql(sql) == "SELECT * FROM t WHERE a = ?2 AND b = ?1 AND c = ?2 ORDER BY a"


async def test_reordered_and_repeated_parameters_bind_by_number(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t (v, k) VALUES ($2, $1)", "a", 1)
    sql = "SELECT count(*) FROM t WHERE k = $1 AND v = $2 AND k = $1"
    assert await db.fetchval(sql, "a", 1) == 1


async def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.executemany("INSERT INTO t (k, v) VALUES ($1, $2)", [("x", 1), ("y", 2)])
            await tx.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "x", 3)
    assert await db.fetch("SELECT k FROM t") == []
    async with db.transaction() as tx:  # the writer is usable again
        await tx.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "z", 9)
    assert await db.fetchrow("SELECT k, v FROM t") == {"k": "z", "v": 9}


async def test_readers_cannot_write(db: Database) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        await db.fetch("INSERT INTO t (k, v) VALUES ('r', 1)")


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("a/", "a0"),
        ("a", "b"),
        ("\u00e9", "\u00ea"),
        ("x\U0010ffff", "y"),
        ("\U0010ffff\U0010ffff", None),
        ("\ud7ff", "\ue000"),
    ],
)
def test_prefix_end_is_the_least_bound_above_the_prefix(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


def test_iso_is_utc_with_microseconds() -> None:
    at = datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=timezone(timedelta(hours=2)))
    assert iso(at) == "2024-05-06T05:08:09.120000Z"


def test_outcome_tells_success_from_rejection() -> None:
    command = new_id()
    made = Envelope.wrap(BucketCreated(bucket="b", owner="o"), actor="a", causation_id=command)
    no = Envelope.wrap(
        CommandRejected(command="s3.CreateBucket", code="BucketAlreadyExists", message="m"),
        actor="a",
        causation_id=command,
    )
    assert outcome(Stored(3, "evt.x", made)) == {
        "command_id": str(command), "seq": 3, "type": "s3.BucketCreated", "ok": True,
        "code": None, "message": None,
    }
    rejected = outcome(Stored(4, "evt.x", no))
    assert rejected is not None
    assert (rejected["ok"], rejected["code"], rejected["message"]) == (
        False, "BucketAlreadyExists", "m"
    )
    uncaused = Envelope.wrap(BucketCreated(bucket="b", owner="o"), actor="a")
    assert outcome(Stored(5, "evt.x", uncaused)) is None


def test_contiguous_counts_events_up_to_the_first_hole() -> None:
    env = Envelope.wrap(BucketCreated(bucket="b", owner="o"), actor="a")
    batch = [Stored(seq, "evt.x", env) for seq in (5, 6, 8)]
    assert _contiguous(batch, None) == 2
    assert _contiguous(batch, 4) == 2
    assert _contiguous(batch, 3) == 0
    assert _contiguous(batch[2:], None) == 1
